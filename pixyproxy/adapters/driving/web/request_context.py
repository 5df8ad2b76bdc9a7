"""What one request carries through the web adapter: its id, and the author once known."""

from __future__ import annotations

from contextvars import ContextVar, Token

_request_id: ContextVar[str | None] = ContextVar("pixyproxy_request_id", default=None)

# The scope key under which authentication leaves the author for the access log.
AUTHOR_SCOPE_KEY = "pixyproxy.author"


def current_request_id() -> str | None:
    return _request_id.get()


def enter_request(request_id: str) -> Token[str | None]:
    return _request_id.set(request_id)


def leave_request(token: Token[str | None]) -> None:
    _request_id.reset(token)
