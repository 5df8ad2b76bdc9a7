from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from tests.support.app import MemoryStack, memory_app, memory_stack


@dataclass
class Api:
    client: TestClient
    stack: MemoryStack
    key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def key_for(self, author: str) -> dict[str, str]:
        _, key = self.stack.container.api_keys().create({"author": author})
        return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def api() -> Iterator[Api]:
    stack = memory_stack()
    _, key = stack.container.api_keys().create({"author": "alice"})
    with TestClient(memory_app(stack), raise_server_exceptions=False) as client:
        yield Api(client, stack, key)
