"""SIGKILL in the middle of a burst of generations, on MySQL and S3: after a restart no row
lacks its image, and `pixyproxy gc` finds and removes exactly the orphaned bytes."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from pixyproxy.domain.renditions import rendition_owner
from tests.support.api_client import Hammer, all_images, bearer
from tests.support.mysql import url_with_address
from tests.support.s3 import admin_client, create_bucket
from tests.support.service import ServiceProcess
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.e2e, pytest.mark.mysql, pytest.mark.s3]

PREFIX = "images/"


def _objects(endpoint: str, bucket: str) -> set[str]:
    pages = admin_client(endpoint).get_paginator("list_objects_v2")
    return {
        listed["Key"].removeprefix(PREFIX)
        for page in pages.paginate(Bucket=bucket, Prefix=PREFIX)
        for listed in page.get("Contents", [])
    }


def _originals(keys: set[str]) -> set[str]:
    """The images' own keys, without the renditions made of them."""
    return {key for key in keys if rendition_owner(key) is None}


def _rows(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.text("SELECT COUNT(*) FROM images")).scalar_one())


def _wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _gc_listing(output: str) -> set[str]:
    return set(re.findall(r"^orphan image \(no row\): (\S+)$", output, re.MULTILINE))


def test_sigkill_mid_burst_leaves_no_row_without_bytes_and_gc_removes_every_orphan(
    tmp_path: Path,
    make_mysql_database: Callable[[], str],
    mysql_proxy: TcpProxy,
    moto_s3_endpoint: str,
) -> None:
    database_url = make_mysql_database()
    bucket = create_bucket(moto_s3_endpoint)
    env = {
        "PIXYPROXY_DATABASE_URL": url_with_address(database_url, "127.0.0.1", mysql_proxy.port),
        "PIXYPROXY_BLOB_STORE": "s3",
        "PIXYPROXY_S3_BUCKET": bucket,
        "PIXYPROXY_S3_PREFIX": PREFIX,
        "PIXYPROXY_S3_ENDPOINT_URL": moto_s3_endpoint,
        "PIXYPROXY_GENERATOR": "local",
        "PIXYPROXY_LOCAL_GENERATOR_DELAY_S": "0.3",
        "PIXYPROXY_GENERATION_CONCURRENCY": "64",
    }
    direct = sa.create_engine(database_url, poolclass=sa.NullPool)
    with ServiceProcess(tmp_path, env) as service:
        key = service.create_key("crasher")
        service.start()

        def post(http: httpx.Client, n: int) -> tuple[str, httpx.Response]:
            made = http.post("/image", json={"prompt": f"burst {n}"}, headers=bearer(key))
            return "POST /image", made

        with Hammer(service.base_url, post, workers=24, timeout_s=30) as burst:
            _wait_for(lambda: _rows(direct) >= 10, 30, "the first rows")
            # A database that stops answering holds every generation between its bytes and
            # its row: the window a crash turns into orphans, held open on purpose.
            mysql_proxy.stall()
            rows_before_kill = _rows(direct)
            _wait_for(
                lambda: len(_originals(_objects(moto_s3_endpoint, bucket))) >= rows_before_kill + 5,
                30,
                "bytes stored ahead of their rows",
            )
            service.kill()
            burst.stop()
        # Drop what the stalled connections still hold, so no half-sent INSERT lands later.
        mysql_proxy.cut()
        mysql_proxy.restore()

        service.start()
        service.wait_ready()
        with httpx.Client(base_url=service.base_url, timeout=30) as http:
            listed = all_images(http)
            for detail in listed:
                content = http.get(f"/image/{detail['guid']}/content")
                assert content.status_code == 200, detail
                assert len(content.content) == detail["byte_size"]
        rows = {detail["filename"] for detail in listed}
        assert len(rows) == _rows(direct) >= rows_before_kill
        stored = _objects(moto_s3_endpoint, bucket)
        # A rendition (the thumbnail made with each image) belongs to its original's row.
        orphans = {key for key in stored if (rendition_owner(key) or key) not in rows}
        assert rows <= stored
        assert len(_originals(orphans)) >= 5
        # The thumbnails, written before the row too, are orphaned with their originals.
        assert any(rendition_owner(key) in orphans for key in orphans)

        found = service.cli("gc", "--grace-s", "0").stdout
        assert _gc_listing(found) == orphans
        assert f"{len(orphans)} orphan image(s) found" in found
        assert "0 row(s) without bytes" in found
        removed = service.cli("gc", "--apply", "--grace-s", "0").stdout
        assert _gc_listing(removed) == orphans
        assert f"{len(orphans)} orphan image(s) deleted" in removed
        # What stays is every row's image, and the renditions of those images.
        assert _objects(moto_s3_endpoint, bucket) == stored - orphans

        with httpx.Client(base_url=service.base_url, timeout=30) as http:
            after = http.post("/image", json={"prompt": "after the crash"}, headers=bearer(key))
            assert after.status_code == 201
    direct.dispose()
