"""Bounds on what one client can hold of a worker before the application sees a request.

uvicorn's httptools protocol buffers a request's head without limit (50 connections sending
4 MB headers that never end took a worker from 78 to 287 MB), never times out a connection
that has not finished its head or its body, and accepts connections until file handles run
out. Its h11 protocol bounds the head (16 KiB, then a plain-text 400) but not the time, and
parses in pure Python. This subclass keeps httptools' parser and adds, per worker:

- the request line and headers: at most `max_header_bytes`, else 431 and the connection closed;
- time: the head must arrive within `header_timeout_s` of the connection (or of the first byte
  of the next request on a kept-alive one), the body within `body_timeout_s` of the head, else
  408 and closed (a kept-alive connection that is idle is uvicorn's `timeout_keep_alive`);
- connections: past `max_connections` a new one gets a 503 and is closed at once.

Its answers are problem documents like every other (`problems.problem_bytes`). It leans on
uvicorn's `HttpToolsProtocol` internals (its callbacks and `cycle`): tests/e2e/test_slow_clients.py
fails if an upgrade changes them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from pixyproxy.adapters.driving.web.problems import (
    HEADERS_TOO_LARGE,
    MALFORMED_REQUEST,
    REQUEST_TIMEOUT,
    TOO_MANY_CONNECTIONS,
    ProblemType,
    problem_bytes,
)
from pixyproxy.app.settings import Settings


@dataclass(frozen=True, slots=True)
class HttpLimits:
    max_header_bytes: int = 32 * 1024
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_connections: int = 1000

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpLimits:
        return cls(
            max_header_bytes=settings.http_max_header_bytes,
            header_timeout_s=settings.http_header_timeout_s,
            body_timeout_s=settings.http_body_timeout_s,
            max_connections=settings.http_max_connections,
        )


def _raw_problem(kind: ProblemType, detail: str) -> bytes:
    body = problem_bytes(kind, detail)
    head = (
        f"HTTP/1.1 {kind.status} {kind.title}\r\n"
        "content-type: application/problem+json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


# How long a refused connection is read (and its data dropped) before it is closed.
LINGER_S = 2.0


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    # Set once per worker process by `configure` (uvicorn builds one protocol per connection
    # and passes it nothing of ours).
    limits: ClassVar[HttpLimits] = HttpLimits()

    @classmethod
    def configure(cls, limits: HttpLimits) -> None:
        cls.limits = limits

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._refused = False
        self._lingering = False
        self._in_head = True
        self._head_bytes = 0
        self._deadline: asyncio.TimerHandle | None = None

    # --- connections ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            self._refused = True
            transport.write(
                _raw_problem(TOO_MANY_CONNECTIONS, "this worker holds all the connections it may")
            )
            transport.close()
            return
        super().connection_made(transport)
        self._arm(self.limits.header_timeout_s, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._refused:
            return
        self._disarm()
        super().connection_lost(exc)

    # --- the head ---------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._refused or self._lingering:
            return
        if not self._in_head:
            super().data_received(data)
            return
        budget = self.limits.max_header_bytes - self._head_bytes
        head, rest = data[:budget], data[budget:]
        self._head_bytes += len(head)
        super().data_received(head)
        if not rest or self.transport.is_closing():
            return
        if self._in_head:
            detail = f"request line and headers are limited to {self.limits.max_header_bytes} bytes"
            self._refuse(HEADERS_TOO_LARGE, detail)
            return
        self.data_received(rest)

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to what its parser cannot read, as a problem like any other."""
        self._refuse(MALFORMED_REQUEST, "the request is not valid HTTP/1.1")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        if self._deadline is None:  # a fresh connection's deadline runs from the connect
            self._arm(self.limits.header_timeout_s, self._head_timed_out)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._arm(self.limits.body_timeout_s, self._body_timed_out)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_head = True
        self._head_bytes = 0
        super().on_message_complete()

    # --- deadlines --------------------------------------------------------------------------

    def _arm(self, delay_s: float, callback: Any) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(delay_s, callback)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _head_timed_out(self) -> None:
        self._deadline = None
        if self.cycle is None or self.cycle.response_complete:
            detail = f"the request's headers did not arrive within {self.limits.header_timeout_s} s"
            self._refuse(REQUEST_TIMEOUT, detail)

    def _body_timed_out(self) -> None:
        self._deadline = None
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            # The application may be waiting for the body: it sees a disconnect, and
            # whatever it still sends is dropped.
            cycle.disconnected = True
            cycle.message_event.set()
            detail = f"the request's body did not arrive within {self.limits.body_timeout_s} s"
            self._refuse(REQUEST_TIMEOUT, detail)
        elif not self.transport.is_closing():
            self.transport.close()

    def _refuse(self, kind: ProblemType, detail: str) -> None:
        """Answer, then close the way nginx does ("lingering close"): stop sending, read and
        drop what the client still sends for a moment, then close. Closing at once with its
        data unread makes the kernel reset the connection, and the client may never read the
        answer."""
        self._disarm()
        if self.transport.is_closing() or self._lingering:
            return
        self._lingering = True
        self.transport.write(_raw_problem(kind, detail))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._deadline = self.loop.call_later(LINGER_S, self.transport.close)
