"""What the S3 store promises beyond the contract: content types, prefixes, presigned URLs,
and prompt, credential-free failures when S3 cannot serve."""

from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Callable, Iterator

import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from pixyproxy.adapters.driven.blob_store_s3 import S3BlobStore, normalize_prefix
from pixyproxy.domain.exceptions import BlobNotFound, BlobStoreUnavailable, InvalidInput
from tests.support.s3 import SECRET_KEY, admin_client

StoreFactory = Callable[..., S3BlobStore]


@pytest.fixture
def make_store(s3_bucket: tuple[str, str]) -> Iterator[StoreFactory]:
    endpoint, bucket = s3_bucket
    made: list[S3BlobStore] = []

    def make(prefix: str = "", bucket_name: str = bucket) -> S3BlobStore:
        made.append(S3BlobStore(bucket_name, prefix=prefix, endpoint_url=endpoint))
        return made[-1]

    yield make
    for store in made:
        store.close()


def test_objects_carry_their_content_type(
    make_store: StoreFactory, s3_bucket: tuple[str, str]
) -> None:
    endpoint, bucket = s3_bucket
    make_store(prefix="images").put("a.webp", b"RIFF....WEBP", "image/webp")

    head = admin_client(endpoint).head_object(Bucket=bucket, Key="images/a.webp")

    assert head["ContentType"] == "image/webp"
    assert head["ContentLength"] == len(b"RIFF....WEBP")


def test_stores_with_different_prefixes_do_not_see_each_other(
    make_store: StoreFactory, s3_bucket: tuple[str, str]
) -> None:
    endpoint, bucket = s3_bucket
    stores = {"images/": make_store("images"), "other/": make_store("/other/"), "": make_store()}
    for prefix, store in stores.items():
        store.put("a.png", prefix.encode() or b"root", "image/png")
        store.put(f"only-in-{prefix.strip('/') or 'root'}.png", b"x", "image/png")

    for prefix, store in stores.items():
        name = prefix.strip("/") or "root"
        assert sorted(b.key for b in store.iter_blobs()) == ["a.png", f"only-in-{name}.png"]
        assert store.get("a.png") == (prefix.encode() or b"root")
    listed = admin_client(endpoint).list_objects_v2(Bucket=bucket)["Contents"]
    assert {"images/a.png", "other/a.png", "a.png"} <= {o["Key"] for o in listed}


@pytest.mark.parametrize(
    ("stored_as", "served_as"),
    [("image/png", "image/png"), ("application/octet-stream", "image/webp")],
)
def test_a_presigned_url_serves_the_bytes_with_the_requested_content_type(
    make_store: StoreFactory, stored_as: str, served_as: str
) -> None:
    store = make_store(prefix="images")
    store.put("a.png", b"\x89PNG\r\n\x1a\n-bytes", stored_as)

    url = store.presigned_url("a.png", served_as, expires_s=60)

    assert url is not None
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"\x89PNG\r\n\x1a\n-bytes"
        assert response.headers["Content-Type"] == served_as


def test_a_presigned_url_names_the_public_endpoint_and_is_served_there(
    s3_bucket: tuple[str, str],
) -> None:
    endpoint, bucket = s3_bucket
    # The same server under another name: clients know it as localhost, pixyproxy by address.
    public = endpoint.replace("127.0.0.1", "localhost")
    store = S3BlobStore(bucket, endpoint_url=endpoint, public_endpoint_url=public)
    try:
        store.put("a.png", b"\x89PNG\r\n\x1a\n-public", "image/png")

        url = store.presigned_url("a.png", "image/png", expires_s=60)

        assert url is not None and url.startswith(f"{public}/{bucket}/a.png?")
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.read() == b"\x89PNG\r\n\x1a\n-public"
    finally:
        store.close()


def test_presigned_url_refuses_bad_keys_and_expiries(make_store: StoreFactory) -> None:
    store = make_store()
    with pytest.raises(InvalidInput):
        store.presigned_url("../a.png", "image/png", expires_s=60)
    with pytest.raises(InvalidInput):
        store.presigned_url("a.png", "image/png", expires_s=0)
    with pytest.raises(InvalidInput):
        store.presigned_url("a.png", "image/png", expires_s=8 * 24 * 3600)


def test_an_unknown_bucket_is_unavailable_not_missing(make_store: StoreFactory) -> None:
    store = make_store(bucket_name="pixyproxy-no-such-bucket")

    for call in (
        store.ping,
        lambda: store.put("a.png", b"x", "image/png"),
        lambda: store.get("a.png"),
    ):
        with pytest.raises(BlobStoreUnavailable) as caught:
            call()
        assert SECRET_KEY not in str(caught.value)


# --- endpoints that do not serve: no S3 peer needed, only the fake credentials ------------


@pytest.fixture
def refusing_endpoint() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there any more


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """Accepts connections (the kernel does) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


# Three attempts with standard-mode backoff (at most 1 s, then 2 s) plus the timeouts.
GIVE_UP_BOUND_S = 15.0
OPERATIONS = ["ping", "put", "get", "size", "iter_blobs"]


@pytest.mark.parametrize(
    ("endpoint_fixture", "cause", "operation"),
    [
        *[("refusing_endpoint", EndpointConnectionError, op) for op in OPERATIONS],
        # Each silent attempt costs the full timeouts, so only the probe and a body upload.
        ("silent_endpoint", ReadTimeoutError, "ping"),
        ("silent_endpoint", ReadTimeoutError, "put"),
    ],
)
def test_an_endpoint_that_does_not_serve_is_unavailable_within_a_bound(
    request: pytest.FixtureRequest,
    aws_test_environment: None,
    endpoint_fixture: str,
    cause: type[Exception],
    operation: str,
) -> None:
    endpoint = str(request.getfixturevalue(endpoint_fixture))
    store = S3BlobStore("bucket", endpoint_url=endpoint, connect_timeout_s=0.3, read_timeout_s=0.3)
    calls: dict[str, Callable[[], object]] = {
        "ping": store.ping,
        "put": lambda: store.put("a.png", b"x", "image/png"),
        "get": lambda: store.get("a.png"),
        "size": lambda: store.size("a.png"),
        "iter_blobs": lambda: list(store.iter_blobs()),
    }
    started = time.monotonic()

    with pytest.raises(BlobStoreUnavailable) as caught:
        calls[operation]()

    assert time.monotonic() - started < GIVE_UP_BOUND_S
    assert isinstance(caught.value.__cause__, cause)
    assert SECRET_KEY not in str(caught.value)
    assert endpoint not in str(caught.value)
    store.close()


def test_get_of_a_missing_key_is_not_an_outage(make_store: StoreFactory) -> None:
    with pytest.raises(BlobNotFound):
        make_store(prefix="images").get("nothing-here.png")


@pytest.mark.parametrize(
    ("given", "normal"),
    [("", ""), ("/", ""), ("images", "images/"), ("/images/", "images/"), ("a/b", "a/b/")],
)
def test_prefixes_are_normalised_to_one_folder(given: str, normal: str) -> None:
    assert normalize_prefix(given) == normal
