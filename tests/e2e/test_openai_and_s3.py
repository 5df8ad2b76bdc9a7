"""The production adapters end to end: OpenAI SDK against the loopback Images API server,
bytes in S3 (moto's server), pixyproxy as its own process."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_service_process import exercise_four_endpoints
from tests.support.images_api import TEST_API_KEY, ImagesApiServer
from tests.support.s3 import admin_client, create_bucket
from tests.support.service import ServiceProcess

pytestmark = [pytest.mark.e2e, pytest.mark.s3]


def production_env(images_api: ImagesApiServer, endpoint: str, bucket: str) -> dict[str, str]:
    return {
        "PIXYPROXY_GENERATOR": "openai",
        "OPENAI_API_KEY": TEST_API_KEY,
        "OPENAI_BASE_URL": images_api.base_url,
        "PIXYPROXY_OPENAI_TIMEOUT_S": "10",
        "PIXYPROXY_BLOB_STORE": "s3",
        "PIXYPROXY_S3_BUCKET": bucket,
        "PIXYPROXY_S3_PREFIX": "images",
        "PIXYPROXY_S3_ENDPOINT_URL": endpoint,
    }


def test_generate_through_openai_and_store_in_s3(
    tmp_path: Path, images_api: ImagesApiServer, moto_s3_endpoint: str
) -> None:
    bucket = create_bucket(moto_s3_endpoint)
    env = production_env(images_api, moto_s3_endpoint, bucket)
    with ServiceProcess(tmp_path, env) as service:
        service.start()
        exercise_four_endpoints(service)
    assert images_api.call_count == 1
    (call,) = images_api.calls
    assert call.body is not None
    assert call.body["model"] == "gpt-image-2"
    assert call.body["prompt"] == "a lighthouse at dusk"
    listed = admin_client(moto_s3_endpoint).list_objects_v2(Bucket=bucket)
    keys = {stored["Key"] for stored in listed["Contents"]}
    (original,) = {key for key in keys if key.endswith(".png")}
    assert original.startswith("images/")
    # With the thumbnail made from it: the loopback model's picture is 64 px wide (a 16th of
    # 1024), so the thumbnail is too (never an upscale).
    assert keys == {original, f"{original}.w64.webp"}


def test_redirect_delivery_sends_a_presigned_url(
    tmp_path: Path, images_api: ImagesApiServer, moto_s3_endpoint: str
) -> None:
    bucket = create_bucket(moto_s3_endpoint)
    env = {
        **production_env(images_api, moto_s3_endpoint, bucket),
        "PIXYPROXY_CONTENT_DELIVERY": "redirect",
    }
    with ServiceProcess(tmp_path, env) as service:
        key = service.create_key("redirected")
        service.start()
        with httpx.Client(base_url=service.base_url, timeout=30) as http:
            made = http.post("/image", json={"prompt": "p"}, headers={"X-API-Key": key}).json()
            response = http.get(f"/image/{made['guid']}/content")
            assert response.status_code == 307
            location = response.headers["location"]
            assert location.startswith(moto_s3_endpoint)
            assert "Signature" in location or "X-Amz-Signature" in location
            fetched = httpx.get(location, timeout=10)
            assert fetched.status_code == 200
            assert fetched.headers["content-type"] == "image/png"
            assert len(fetched.content) == made["byte_size"]
            etag = f'"{hashlib.sha256(fetched.content).hexdigest()}"'
            cached = http.get(f"/image/{made['guid']}/content", headers={"If-None-Match": etag})
            assert cached.status_code == 304


def test_upstream_refusal_reaches_the_client_as_a_problem(
    tmp_path: Path, images_api: ImagesApiServer, moto_s3_endpoint: str
) -> None:
    bucket = create_bucket(moto_s3_endpoint)
    with ServiceProcess(tmp_path, production_env(images_api, moto_s3_endpoint, bucket)) as service:
        key = service.create_key("refused")
        service.start()
        images_api.script("moderation_blocked", "rate_limited", "server_error")
        statuses = [
            httpx.post(
                f"{service.base_url}/image",
                json={"prompt": "p"},
                headers={"X-API-Key": key},
                timeout=30,
            )
            for _ in range(3)
        ]
    assert [r.status_code for r in statuses] == [422, 429, 502]
    assert all(r.headers["content-type"] == "application/problem+json" for r in statuses)
    assert "retry-after" in statuses[1].headers
    assert images_api.call_count == 3
    assert admin_client(moto_s3_endpoint).list_objects_v2(Bucket=bucket).get("KeyCount") == 0
