"""Schemathesis against our own OpenAPI document, on the embedded defaults (SQLite, local
disk, local generator), with and without a valid key: no 5xx, and every response matches the
documented status codes, content types, headers and schemas."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from pydantic import SecretStr
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from pixyproxy.adapters.driving.web.app import create_app
from pixyproxy.app.settings import Settings
from pixyproxy.bootstrap import prepare_database

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Bounded so the whole run stays within a couple of minutes on CI's two cores.
FUZZ_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# schemathesis parametrizes at collection, so the app exists from then on. (Its lazy,
# fixture-based loader does not work with this pytest.)
_DATA = Path(tempfile.mkdtemp(prefix="pixyproxy-fuzz-"))
atexit.register(shutil.rmtree, _DATA, ignore_errors=True)
APP = create_app(
    Settings(
        database_url=SecretStr(f"sqlite:///{_DATA / 'pixyproxy.db'}"),
        local_dir=str(_DATA / "images"),
        generator="local",
    )
)
prepare_database(APP.state.container)
APP.state.container.schema_ready.override(True)
_, KEY = APP.state.container.api_keys().create({"author": "fuzzer"})
atexit.register(APP.state.container.shutdown_resources)

schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@FUZZ_SETTINGS
def test_every_operation_honours_its_contract_with_a_valid_key(
    case: schemathesis.Case[Any],
) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {KEY}"}, checks=CHECKS)


@schema.parametrize()
@FUZZ_SETTINGS
def test_every_operation_honours_its_contract_without_a_key(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate(checks=CHECKS)
