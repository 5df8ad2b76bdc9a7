"""The README walk-through through a Python client generated from the live /openapi.json by
openapi-python-client: the spec is what the server does, or this fails."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.support.service import ServiceProcess

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = Path(sys.executable).parent / "openapi-python-client"
PACKAGE = "pixyproxy_api_client"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    with ServiceProcess(tmp_path_factory.mktemp("client-service")) as running:
        running.start()
        yield running


@pytest.fixture(scope="module")
def api(service: ServiceProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The generated package, imported from a temporary folder."""
    work = tmp_path_factory.mktemp("generated")
    spec = work / "openapi.json"
    spec.write_bytes(httpx.get(f"{service.base_url}/openapi.json").content)
    generated = subprocess.run(
        [
            str(GENERATOR), "generate", "--path", str(spec), "--meta", "none",
            "--output-path", str(work / PACKAGE),
            "--config", str(ROOT / "clients/openapi-python-client.yaml"),
        ],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PATH": f"{GENERATOR.parent}:{os.environ.get('PATH', '')}"},
    )  # fmt: skip
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "Warning" not in generated.stdout, generated.stdout
    sys.path.insert(0, str(work))
    try:
        yield Generated(importlib.import_module(PACKAGE))
    finally:
        sys.path.remove(str(work))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


class Generated:
    """`api.images.get_image`, `api.models.NotFoundProblem`...: the generated modules."""

    def __init__(self, package: ModuleType) -> None:
        self.package = package
        self.models = importlib.import_module(f"{PACKAGE}.models")
        self.images = _Modules(f"{PACKAGE}.api.images")
        self.operations = _Modules(f"{PACKAGE}.api.operations")
        self.client = importlib.import_module(f"{PACKAGE}.client")


class _Modules:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __getattr__(self, name: str) -> Any:
        return importlib.import_module(f"{self.prefix}.{name}")


def test_the_readme_walk_through_through_a_generated_client(
    service: ServiceProcess, api: Any
) -> None:
    key = service.create_key("alice")
    anonymous = api.client.Client(base_url=service.base_url, raise_on_unexpected_status=True)
    alice = api.client.AuthenticatedClient(
        base_url=service.base_url, token=key, raise_on_unexpected_status=True
    )
    models, images = api.models, api.images

    # Capabilities: the sizes the body's enum offers are the model's.
    capabilities = api.operations.get_capabilities.sync(client=anonymous)
    assert isinstance(capabilities, models.Capabilities)
    assert capabilities.tags.max_items == 16

    # Generate with tags and an Idempotency-Key; a retry returns the same image.
    body = models.GenerateImageBody(prompt="a lighthouse at dusk", tags=["sea", "Light"])
    made = images.generate_image.sync_detailed(client=alice, body=body, idempotency_key="walk-1")
    assert made.status_code == 201
    detail = made.parsed
    assert isinstance(detail, models.ImageDetail)
    assert detail.tags == ["sea", "light"]
    assert made.headers["location"] == f"/image/{detail.guid}"
    again = images.generate_image.sync(client=alice, body=body, idempotency_key="walk-1")
    assert again.guid == detail.guid
    for n in range(2):
        other = models.GenerateImageBody(prompt=f"another {n}", tags=["sea"])
        assert isinstance(images.generate_image.sync(client=alice, body=other), models.ImageDetail)

    # Details by GUID.
    fetched = images.get_image.sync(client=anonymous, guid=detail.guid)
    assert isinstance(fetched, models.ImageDetail)
    assert fetched.content_url == f"/image/{detail.guid}/content"

    # List with a tag, and the next page: by the Link header, and by the envelope.
    first = images.list_images.sync_detailed(client=anonymous, limit=2, tag=["sea"])
    assert len(first.parsed) == 2
    link = first.headers["link"]
    assert link.endswith('>; rel="next"') and link.startswith("</image?")
    page = images.list_images.sync(client=anonymous, limit=2, tag=["sea"], envelope=True)
    assert isinstance(page, models.ImagePage)
    assert [d.guid for d in page.items] == [d.guid for d in first.parsed]
    rest = images.list_images.sync(client=anonymous, limit=2, tag=["sea"], cursor=page.next_cursor)
    assert [d.guid for d in rest] == [detail.guid]

    # Download, then 304 with the ETag, then a Range.
    download = images.get_image_content.sync_detailed(client=anonymous, guid=detail.guid)
    assert download.status_code == 200
    data = download.parsed.payload.read()
    assert data.startswith(b"\x89PNG") and len(data) == detail.byte_size
    etag = download.headers["etag"]
    cached = images.get_image_content.sync_detailed(
        client=anonymous, guid=detail.guid, if_none_match=etag
    )
    assert cached.status_code == 304
    ranged = images.get_image_content.sync_detailed(
        client=anonymous, guid=detail.guid, range_="bytes=0-9"
    )
    assert ranged.status_code == 206
    assert ranged.parsed.payload.read() == data[:10]
    head = images.head_image_content.sync_detailed(client=anonymous, guid=detail.guid)
    assert head.status_code == 200 and head.headers["etag"] == etag

    # Retag, delete, and the typed problems.
    retagged = images.retag_image.sync(
        client=alice, guid=detail.guid, body=models.RetagImageBody(tags=["harbour"])
    )
    assert retagged.tags == ["harbour"]
    deleted = images.delete_image.sync_detailed(client=alice, guid=detail.guid)
    assert deleted.status_code == 204
    missing = images.get_image.sync(client=anonymous, guid=detail.guid)
    assert isinstance(missing, models.NotFoundProblem)
    assert missing.type_ == "/problems/image-not-found"
    refused = images.generate_image.sync(
        client=alice, body=models.GenerateImageBody(prompt="   ", tags=["bad tag"])
    )
    assert isinstance(refused, models.ValidationProblem)
    assert {tuple(e.loc) for e in refused.errors} == {("body", "prompt"), ("body", "tags", 0)}
    described = api.operations.get_problem_type.sync(client=anonymous, slug="invalid-input")
    assert isinstance(described, models.ProblemTypeDoc) and described.status == 422
    unauthorized = images.delete_image.sync(
        client=api.client.AuthenticatedClient(base_url=service.base_url, token="nope"),
        guid=detail.guid,
    )
    assert isinstance(unauthorized, models.UnauthorizedProblem)
