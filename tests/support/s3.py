"""S3 peers over real HTTP on loopback: moto's standalone server always, MinIO when a Docker
engine answers that has its image and publishes ports.

Both see the same fake credentials, set in the environment for the whole session, with the
shared AWS config files pointed at /dev/null so no developer profile or real key is read.
Tests that use moto carry `s3`; the MinIO variant carries no marker, so its skip on a machine
without Docker never counts against `PIXYPROXY_TEST_REQUIRE=s3`.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import boto3.session
import pytest
from botocore.config import Config

from tests.support.containers import docker_engine, missing_image, owner_labels, uses_host_network

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ACCESS_KEY = "testing"
# MinIO wants secrets of at least 8 characters; moto takes anything.
SECRET_KEY = "testing-secret"
REGION = "us-east-1"
MINIO_IMAGE = "minio/minio:RELEASE.2022-12-02T19-19-22Z"
MINIO_PORT = 9000

S3_BACKENDS = [
    pytest.param("moto", marks=pytest.mark.s3, id="moto"),
    pytest.param("minio", id="minio"),
]


@functools.cache
def admin_client(endpoint_url: str) -> S3Client:
    """A plain boto3 client on a test server, for arranging and inspecting buckets. Cached:
    building a client costs a tenth of a second, and clients are thread-safe."""
    config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint_url, region_name=REGION, config=config
    )


def create_bucket(endpoint_url: str) -> str:
    """A fresh, uniquely named bucket, so tests sharing one server never see each other."""
    name = f"pixyproxy-test-{uuid.uuid4().hex[:20]}"
    admin_client(endpoint_url).create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def aws_test_environment() -> Iterator[None]:
    """Fake credentials and region; no shared config files, no instance metadata lookups."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        patch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        patch.setenv("AWS_CONFIG_FILE", "/dev/null")
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        yield


@pytest.fixture(scope="session")
def moto_s3_endpoint(aws_test_environment: None) -> Iterator[str]:
    """The URL of a moto server on a free loopback port, for the whole session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def minio_s3_endpoint(aws_test_environment: None) -> Iterator[str]:
    """The URL of a MinIO container; a skip when no Docker engine answers, when the engine lacks
    the image (it is not pulled here: where no registry answers, a pull could hang), or when it
    publishes no ports."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import HttpWaitStrategy

    client = docker_engine()
    if client is None:
        pytest.skip("MinIO needs a Docker engine, none answers")
    missing = missing_image(client, MINIO_IMAGE, pull=False)
    if missing:
        pytest.skip(f"MinIO: {missing} (`docker pull {MINIO_IMAGE}` to run these)")
    if uses_host_network(client):
        pytest.skip("MinIO: this Docker engine publishes no ports (it has no bridge network)")
    container = DockerContainer(
        MINIO_IMAGE,
        _wait_strategy=HttpWaitStrategy(MINIO_PORT, "/minio/health/live"),
    )
    container.with_exposed_ports(MINIO_PORT).with_kwargs(labels=owner_labels())
    container.with_env("MINIO_ROOT_USER", ACCESS_KEY)
    container.with_env("MINIO_ROOT_PASSWORD", SECRET_KEY)
    container.with_command(f"server /data --address :{MINIO_PORT}")
    with container:
        host = container.get_container_host_ip()
        yield f"http://{host}:{container.get_exposed_port(MINIO_PORT)}"


@pytest.fixture(params=S3_BACKENDS)
def s3_endpoint(request: pytest.FixtureRequest) -> str:
    """The URL of each S3 peer in turn."""
    return str(request.getfixturevalue(f"{request.param}_s3_endpoint"))


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> tuple[str, str]:
    """(endpoint URL, name) of a fresh bucket on each S3 peer."""
    return s3_endpoint, create_bucket(s3_endpoint)
