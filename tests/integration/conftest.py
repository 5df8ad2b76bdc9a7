from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pixyproxy.adapters.driven.blob_store_local import LocalDiskBlobStore
from pixyproxy.adapters.driven.blob_store_s3 import S3BlobStore
from pixyproxy.ports.blob_store import BlobStore
from tests.support.s3 import create_bucket


@pytest.fixture(
    params=[
        pytest.param("local", id="local-disk"),
        pytest.param("s3", marks=pytest.mark.s3, id="s3"),
    ]
)
def real_blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    """Each production blob store in turn: local disk, and S3 on moto's server."""
    if request.param == "local":
        yield LocalDiskBlobStore(tmp_path / "images")
        return
    endpoint = str(request.getfixturevalue("moto_s3_endpoint"))
    store = S3BlobStore(create_bucket(endpoint), prefix="images", endpoint_url=endpoint)
    yield store
    store.close()
