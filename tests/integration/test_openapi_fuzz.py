"""Schemathesis against our own OpenAPI document, on the embedded defaults (SQLite, local
disk, local generator), with and without a valid key, with every check it has (what
`--checks all` runs): no 5xx; status codes, content types, headers and schemas as documented;
data the schema allows is accepted and data it forbids is refused; undocumented methods are
405 with Allow; missing auth is refused; a deleted resource is gone."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any
from uuid import uuid4

import schemathesis
from hypothesis import HealthCheck, settings
from pydantic import SecretStr

from pixyproxy.adapters.driving.web.app import create_app
from pixyproxy.app.settings import Settings
from pixyproxy.bootstrap import prepare_database

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


def only_what_a_schema_can_promise(case: schemathesis.Case[Any]) -> None:
    """Valid cases are sent as what they stand for, where the schema cannot say it all:

    - an Idempotency-Key is state: the fuzzer drawing one key for two different bodies is a
      reuse, rightly a 422, so each valid case gets a key of its own;
    - `security` lists Bearer and X-API-Key as alternatives, which the fuzzer reads as "send
      both": two different keys are a 400 by design (README, input rules), so a valid case
      sends one;
    - a cursor is opaque: no schema can describe the ones this service issued, so a valid case
      asks for the first page.

    Invalid cases keep what they drew, and must be refused."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    headers: MutableMapping[str, Any] = case.headers or {}
    for name in list(headers):
        if name.lower() == "idempotency-key":
            headers[name] = f"fuzz-{uuid4().hex}"
    names = {name.lower(): name for name in headers}
    if "authorization" in names and "x-api-key" in names:
        del headers[names["x-api-key"]]
    if case.query:
        case.query.pop("cursor", None)


@schema.parametrize()
@FUZZ_SETTINGS
def test_every_operation_honours_its_contract_with_a_valid_key(
    case: schemathesis.Case[Any],
) -> None:
    only_what_a_schema_can_promise(case)
    if case.headers:
        case.headers.pop("X-API-Key", None)  # the key below is the one
    case.call_and_validate(headers={"Authorization": f"Bearer {KEY}"})


@schema.parametrize()
@FUZZ_SETTINGS
def test_every_operation_honours_its_contract_without_a_key(case: schemathesis.Case[Any]) -> None:
    only_what_a_schema_can_promise(case)
    case.call_and_validate()
