"""The HTTP tests of tests/unit/web again, with the SQL adapters on SQLite and MySQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.app import memory_app, sql_stack
from tests.support.mysql import contract_engine
from tests.unit.web.conftest import Api


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    stack = sql_stack(contract_engine(request, tmp_path))
    _, key = stack.container.api_keys().create({"author": "alice"})
    with TestClient(memory_app(stack), raise_server_exceptions=False) as client:
        yield Api(client, stack, key)
