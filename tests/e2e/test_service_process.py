"""pixyproxy as a user runs it: `pixyproxy keys create`, `pixyproxy serve`, real HTTP."""

from __future__ import annotations

import io
import os
import signal
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from PIL import Image as PILImage

from pixyproxy.adapters.driven.sql import SqlImageRepository, create_engine_from_url
from tests.support.builders import make_image
from tests.support.service import ServiceProcess

pytestmark = pytest.mark.e2e


def exercise_four_endpoints(service: ServiceProcess) -> None:
    key = service.create_key("e2e-author")
    assert key.startswith("pxp_")
    with httpx.Client(base_url=service.base_url, timeout=30) as http:
        refused = http.post("/image", json={"prompt": "a lighthouse"})
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"

        made = http.post(
            "/image",
            json={"prompt": "a lighthouse at dusk", "tags": ["Sea", "light"]},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert made.status_code == 201, made.text
        detail = made.json()
        assert made.headers["location"] == f"/image/{detail['guid']}"
        assert detail["author"] == "e2e-author"
        assert detail["tags"] == ["sea", "light"]

        assert http.get(made.headers["location"]).json() == detail
        listed = http.get("/image", params={"tag": "sea"})
        assert [d["guid"] for d in listed.json()] == [detail["guid"]]

        content = http.get(f"/image/{detail['guid']}/content")
        assert content.status_code == 200
        assert content.headers["content-type"] == detail["content_type"]
        assert int(content.headers["content-length"]) == detail["byte_size"] == len(content.content)
        picture = PILImage.open(io.BytesIO(content.content))
        assert picture.size == (detail["width"], detail["height"])

        missing = http.get("/image/00000000-0000-0000-0000-000000000000")
        assert missing.status_code == 404
        assert missing.json()["request_id"] == missing.headers["x-request-id"]


def test_four_endpoints_on_embedded_defaults(tmp_path: Path) -> None:
    with ServiceProcess(tmp_path) as service:
        service.start()
        exercise_four_endpoints(service)
        assert "end POST /image 201" in service.log()


def test_first_start_leaves_an_admin_key_that_works(tmp_path: Path) -> None:
    with ServiceProcess(tmp_path) as service:
        service.start()
        service.stop()
        # stdout is not a terminal here: the key is in a file, never on the log stream
        # (tests/e2e/test_private_files.py covers the terminal).
        key = (tmp_path / "first-admin-key").read_text().strip()
        service.start()
        response = httpx.post(
            f"{service.base_url}/image",
            json={"prompt": "first light"},
            headers={"X-API-Key": key},
            timeout=30,
        )
        assert response.status_code == 201
        assert response.json()["author"] == "admin"
        assert "pxp_" not in service.log()
        assert service.log().count("first-admin-key") == 1  # made once, never again


def test_keys_list_and_revoke_from_the_command_line(tmp_path: Path) -> None:
    service = ServiceProcess(tmp_path)
    key = service.create_key("carol")
    prefix = key.split("_")[1]
    listing = service.cli("keys", "list").stdout
    assert prefix in listing and "carol" in listing and key not in listing
    assert "revoked 1 key" in service.cli("keys", "revoke", prefix).stdout
    assert "revoked" in service.cli("keys", "list").stdout.splitlines()[-1]
    assert service.cli("keys", "revoke", "zzzz", check=False).returncode == 1


def _generation_in_flight(service: ServiceProcess) -> bool:
    metrics = httpx.get(f"{service.base_url}/metrics", timeout=5).text
    return "pixyproxy_generations_in_flight 1.0" in metrics


def test_sigterm_lets_a_generation_in_flight_finish(tmp_path: Path) -> None:
    import threading

    with ServiceProcess(tmp_path, {"PIXYPROXY_LOCAL_GENERATOR_DELAY_S": "2"}) as service:
        key = service.create_key("patient")
        service.start()
        answer: dict[str, httpx.Response] = {}

        def post() -> None:
            answer["response"] = httpx.post(
                f"{service.base_url}/image",
                json={"prompt": "slow"},
                headers={"X-API-Key": key},
                timeout=30,
            )

        worker = threading.Thread(target=post)
        worker.start()
        deadline = time.monotonic() + 10
        while not _generation_in_flight(service) and time.monotonic() < deadline:
            time.sleep(0.05)
        # uvicorn re-raises SIGTERM once it has drained, so the exit status names the signal.
        assert service.stop(timeout_s=20) in (0, -signal.SIGTERM)
        assert "Finished server process" in service.log()
        worker.join(5)
        assert answer["response"].status_code == 201
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{service.base_url}/healthz", timeout=1)


def test_gc_from_the_command_line_removes_orphans_past_the_grace(tmp_path: Path) -> None:
    service = ServiceProcess(tmp_path)
    service.cli("db", "init")
    images = tmp_path / "images"
    images.mkdir()
    (images / "00000000-0000-0000-0000-00000000abcd.png").write_bytes(b"orphan")
    crashed_write = images / ".tmp-0123456789abcdef-00000000-0000-0000-0000-00000000dcba.png"
    crashed_write.write_bytes(b"half")
    two_hours_ago = time.time() - 7200
    os.utime(crashed_write, (two_hours_ago, two_hours_ago))
    found = service.cli("gc").stdout
    assert "0 orphan image(s) found" in found  # younger than the grace
    assert f"unfinished write: {crashed_write.name}" in found
    spared = service.cli("gc", "--apply").stdout
    assert "0 orphan image(s) deleted" in spared
    assert "1 unfinished write(s) and 0 expired idempotency key(s) deleted" in spared
    assert not crashed_write.exists()
    removed = service.cli("gc", "--apply", "--grace-s", "0").stdout
    assert "orphan image (no row): 00000000-0000-0000-0000-00000000abcd.png" in removed
    assert "1 orphan image(s) deleted" in removed
    assert not (images / "00000000-0000-0000-0000-00000000abcd.png").exists()


def test_backfill_from_the_command_line_gives_older_images_thumbnail_and_placeholder(
    tmp_path: Path,
) -> None:
    service = ServiceProcess(tmp_path)
    service.cli("db", "init")
    # Images made before renditions existed: rows and bytes, no placeholder, no thumbnail.
    engine = create_engine_from_url(f"sqlite:///{tmp_path / 'pixyproxy.db'}")
    repository = SqlImageRepository(engine)
    (tmp_path / "images").mkdir()
    older = []
    for n in range(3):
        image = replace(make_image(n), width=640, height=480)
        picture = io.BytesIO()
        PILImage.linear_gradient("L").resize((640, 480)).save(picture, format="PNG")
        (tmp_path / "images" / image.filename).write_bytes(picture.getvalue())
        older.append(repository.add(image))

    done = service.cli("renditions", "backfill", "--concurrency", "2")

    assert "3 image(s) backfilled, 0 skipped" in done.stdout
    assert "3/3" in done.stderr
    for image in older:
        assert repository.get(image.guid).placeholder is not None
        (thumbnail,) = repository.renditions_of(image.guid)
        path = tmp_path / "images" / thumbnail.blob_key
        assert PILImage.open(path).size == (256, 192)
    again = service.cli("renditions", "backfill")
    assert "0 image(s) backfilled, 0 skipped" in again.stdout
    engine.dispose()
