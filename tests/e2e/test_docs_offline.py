"""/docs and /redoc render in a browser that cannot reach the internet (issue 12): their
scripts come from the server itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import offline_page
from tests.support.service import ServiceProcess

pytestmark = pytest.mark.e2e

OPERATIONS = [
    ("POST", "/image"),
    ("GET", "/image"),
    ("GET", "/image/{guid}"),
    ("PATCH", "/image/{guid}"),
    ("DELETE", "/image/{guid}"),
    ("GET", "/image/{guid}/content"),
    ("HEAD", "/image/{guid}/content"),
    ("GET", "/capabilities"),
]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    with ServiceProcess(tmp_path_factory.mktemp("docs")) as running:
        running.start()
        yield running


def test_swagger_ui_lists_every_operation_offline(service: ServiceProcess, tmp_path: Path) -> None:
    with offline_page(service.base_url) as offline:
        page = offline.page
        page.goto(f"{service.base_url}/docs")
        page.wait_for_selector(".opblock", timeout=20_000)
        shot = tmp_path / "docs.png"
        page.screenshot(path=str(shot), full_page=True)
        listed = {
            (block.locator(".opblock-summary-method").inner_text().strip(),
             block.locator(".opblock-summary-path").inner_text().strip().replace("\u200b", ""))
            for block in page.locator(".opblock").all()
        }  # fmt: skip
        title = page.locator(".info .title").inner_text()
    assert set(OPERATIONS) <= listed, listed
    assert title.startswith("pixyproxy")
    assert shot.stat().st_size > 20_000
    assert offline.blocked == []


def test_redoc_lists_the_operations_offline(service: ServiceProcess, tmp_path: Path) -> None:
    with offline_page(service.base_url) as offline:
        page = offline.page
        page.goto(f"{service.base_url}/redoc")
        page.get_by_role("heading", name="Generate an image from a prompt").wait_for(timeout=20_000)
        page.screenshot(path=str(tmp_path / "redoc.png"))
        text = page.locator("body").inner_text()
    for summary in ("An image's bytes", "Image details, newest first", "Replace an image's tags"):
        assert summary in text
    assert offline.blocked == []
