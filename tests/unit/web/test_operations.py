"""Health, readiness, metrics and logs, as an operator sees them."""

from __future__ import annotations

import json
import logging
import time
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from pixyproxy.adapters.driven.memory import MemorySchemaMigrator
from pixyproxy.adapters.driving.web.observability import JsonFormatter, RequestContextFilter
from pixyproxy.app.settings import Settings
from pixyproxy.domain.exceptions import ContentPolicyViolation, UpstreamTimeout
from tests.support.app import memory_app, memory_stack
from tests.support.fakes import FlakyBlobStore, ScriptedImageGenerator
from tests.unit.web.conftest import Api
from tests.unit.web.test_images_api import assert_problem


def test_healthz_and_readyz_need_no_key(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


def test_readyz_names_the_dependency_that_does_not_answer() -> None:
    blobs = FlakyBlobStore()
    blobs.fail_on.add("ping")
    stack = memory_stack(blobs=blobs)
    with TestClient(memory_app(stack)) as client:
        body = assert_problem(client.get("/readyz"), 503)
        assert body["failing"] == ["blob_store"]


def test_readyz_waits_for_a_schema_behind_until_an_operator_upgrades_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    migrator = MemorySchemaMigrator(revision=None)
    stack = memory_stack(Settings(generator="local", auto_migrate=False), migrator=migrator)
    with TestClient(memory_app(stack)) as client:
        body = assert_problem(client.get("/readyz"), 503)
        assert body["failing"] == ["database"]
        assert "revision" in str(body["detail"])

        migrator.upgrade()  # what `pixyproxy db upgrade` does from another process
        deadline = time.monotonic() + 10
        while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert client.get("/readyz").status_code == 200
    assert "automatic migration is off" in caplog.text
    assert migrator.upgrades == 1  # by the operator, never by the service


def test_metrics_count_requests_by_route_template_and_generations_by_outcome() -> None:
    generator = ScriptedImageGenerator()
    generator.failures.extend([ContentPolicyViolation("no"), UpstreamTimeout("slow")])
    stack = memory_stack(generator=generator)
    _, key = stack.container.api_keys().create({"author": "alice"})
    auth = {"Authorization": f"Bearer {key}"}
    with TestClient(memory_app(stack)) as client:
        for _ in range(3):
            client.post("/image", json={"prompt": "p"}, headers=auth)
        guid = uuid4()
        client.get(f"/image/{guid}")
        client.get("/no/such/path")
        text = client.get("/metrics").text
    assert 'pixyproxy_generations_total{outcome="rejected"} 1.0' in text
    assert 'pixyproxy_generations_total{outcome="timeout"} 1.0' in text
    assert 'pixyproxy_generations_total{outcome="ok"} 1.0' in text
    assert "pixyproxy_images_stored_total 1.0" in text
    assert 'route="/image/{guid}",status="404"' in text
    assert 'route="<unmatched>",status="404"' in text
    assert str(guid) not in text and "/no/such/path" not in text
    assert "pixyproxy_db_pool_in_use" in text
    assert "pixyproxy_generations_in_flight 0.0" in text


def test_json_logs_carry_the_request_fields_and_never_the_key(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(RequestContextFilter())
    with caplog.at_level(logging.INFO, logger="pixyproxy.access"):
        response = api.client.post(
            "/image", json={"prompt": "secret prompt text"}, headers=api.auth
        )
    formatter = JsonFormatter()
    lines = [
        json.loads(formatter.format(r)) for r in caplog.records if r.name == "pixyproxy.access"
    ]
    end = next(line for line in lines if line["message"].startswith("end "))
    assert end["request_id"] == response.headers["x-request-id"]
    assert (end["method"], end["route"], end["status"], end["author"]) == (
        "POST",
        "/image",
        201,
        "alice",
    )
    assert end["duration_ms"] >= 0
    assert "timestamp" in end and end["level"] == "INFO"
    everything = caplog.text + json.dumps(lines)
    assert api.key not in everything
    assert "secret prompt text" not in everything


def test_cors_is_off_unless_origins_are_set() -> None:
    plain = TestClient(memory_app(memory_stack()))
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
    assert "access-control-allow-origin" not in plain.options("/image", headers=preflight).headers
    cors = TestClient(memory_app(memory_stack(Settings(cors_origins=["https://app.example"]))))
    response = cors.options("/image", headers=preflight)
    assert response.headers["access-control-allow-origin"] == "https://app.example"


def test_prompts_reach_the_logs_only_when_enabled(caplog: pytest.LogCaptureFixture) -> None:
    stack = memory_stack(Settings(log_prompts=True))
    _, key = stack.container.api_keys().create({"author": "alice"})
    with TestClient(memory_app(stack)) as client, caplog.at_level(logging.INFO):
        client.post("/image", json={"prompt": "a loggable prompt"}, headers={"X-API-Key": key})
    assert "a loggable prompt" in caplog.text
    assert key not in caplog.text
