"""Schemathesis against our own OpenAPI document, on the embedded defaults (SQLite, local
disk, local generator), with and without a valid key: no 5xx, and every response matches the
documented status codes, content types, headers and schemas."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from pydantic import SecretStr
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from pixyproxy.adapters.web.app import create_app
from pixyproxy.app.container import init_database
from pixyproxy.app.settings import Settings

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Bounded so the whole run stays within a couple of minutes on CI's two cores.
MAX_EXAMPLES = 40


@pytest.fixture(scope="module")
def embedded_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, str]]:
    data: Path = tmp_path_factory.mktemp("fuzz")
    app = create_app(
        Settings(
            database_url=SecretStr(f"sqlite:///{data / 'pixyproxy.db'}"),
            local_dir=str(data / "images"),
            generator="local",
        )
    )
    container = app.state.container
    init_database(container)
    container.schema_ready.override(True)
    _, key = container.api_keys().create({"author": "fuzzer"})
    yield app, key
    container.shutdown_resources()


@pytest.fixture(scope="module")
def api_schema(embedded_app: tuple[FastAPI, str]) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", embedded_app[0])


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.parametrize("with_key", [True, False], ids=["valid-key", "no-key"])
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_honours_its_contract(
    case: schemathesis.Case, embedded_app: tuple[FastAPI, str], with_key: bool
) -> None:
    headers = {"Authorization": f"Bearer {embedded_app[1]}"} if with_key else {}
    case.call_and_validate(headers=headers, checks=CHECKS)
