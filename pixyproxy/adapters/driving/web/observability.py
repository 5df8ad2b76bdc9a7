"""Request ids, access logs and log formatting.

One middleware sees every request, matched or not, so each gets an access line with its status
and duration when it ends (and a start line at DEBUG), and every response carries `X-Request-ID`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pixyproxy.adapters.driving.web.docs import DOCS_CSP, DOCS_PATH, REDOC_PATH
from pixyproxy.adapters.driving.web.metrics import HttpMetrics
from pixyproxy.adapters.driving.web.problems import INTERNAL_ERROR, problem_of
from pixyproxy.adapters.driving.web.request_context import (
    AUTHOR_SCOPE_KEY,
    current_request_id,
    enter_request,
    leave_request,
)

log = logging.getLogger("pixyproxy.access")

_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# The status the access log and metrics give a request whose client went away mid-way.
CLIENT_CLOSED = 499


class RequestContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        return True


# C0 and C1 controls (CR and LF among them, ESC starting terminal sequences), the Unicode line
# and paragraph separators, and the bidi overrides and isolates that reorder what a terminal
# shows: a logged value carrying any of them could forge or hide log lines.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char) or f"\\u{ord(char):04x}"


def escape_controls(text: str) -> str:
    """`text` on one line, with every character that could forge a line or a terminal
    sequence written as an escape (`\\r`, `\\u001b`)."""
    return _UNSAFE.sub(_escaped, text)


class TextFormatter(logging.Formatter):
    """One line per record whatever the values logged: control characters in the message
    are escaped, and the lines of a traceback are indented, so that nothing a caller sends
    (a path, a header) can start a line that looks like a record of its own."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: Any) -> str:
        text = super().formatException(ei)
        return "\n".join("  " + escape_controls(line) for line in text.split("\n"))

    def formatStack(self, stack_info: str) -> str:
        return "\n".join("  " + escape_controls(line) for line in stack_info.split("\n"))


class JsonFormatter(logging.Formatter):
    _FIELDS = ("method", "route", "path", "status", "duration_ms", "author", "client")

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", None),
            "message": record.getMessage(),
        }
        for name in self._FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(log_format: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestContextFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            TextFormatter(
                "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s",
                datefmt="%Y-%m-%dT%H:%M:%S%z",
            )
        )
    # No format of ours names the caller, thread or process; not collecting them saves a
    # stack walk and three lookups per record (the logging HOWTO's "Optimization").
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"cross-origin"),
]
# The API serves JSON and images only; the docs pages load Swagger UI's scripts from here.
API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
_DOCS_CSP = (b"content-security-policy", DOCS_CSP.encode())
_DOCS_PATHS = (DOCS_PATH, REDOC_PATH)


class RequestLogMiddleware:
    """Request id, the access log line, security headers, and a 500 problem for anything
    that escaped every handler (nothing internal leaks into it)."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = (
            # The same 32 hex digits as uuid4().hex, for a fifth of its cost.
            incoming if incoming and _SANE_REQUEST_ID.fullmatch(incoming) else os.urandom(16).hex()
        )
        id_token = enter_request(request_id)
        method, path = scope["method"], scope["path"]
        started = time.perf_counter()
        status = 500
        response_started = False
        # One INFO line per request, like any access log; the start line costs as much again
        # and only helps to find requests that never end, so it waits for DEBUG.
        log.debug("start %s %s", method, path, extra={"method": method, "path": path})

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                headers.extend(SECURITY_HEADERS)
                headers.append(_DOCS_CSP if path.startswith(_DOCS_PATHS) else API_CSP)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except ClientDisconnect:
            # Nothing to answer: the client closed the connection (or the protocol guard
            # did, for a body that did not arrive in time) while its body was being read.
            status = CLIENT_CLOSED
        except Exception:
            log.exception("unhandled error in %s %s", method, path)
            if response_started:
                raise
            status = 500
            problem = problem_of(Request(scope), INTERNAL_ERROR, INTERNAL_ERROR.description)
            await problem(scope, receive, send_with_headers)
        finally:
            route = getattr(scope.get("route"), "path", None)
            seconds = time.perf_counter() - started
            self.metrics.observe(route, method, status, seconds)
            duration_ms = round(seconds * 1000, 2)
            log.info(
                "end %s %s %s %.2fms",
                method,
                route or path,
                status,
                duration_ms,
                extra={
                    "method": method,
                    "path": path,
                    "route": route,
                    "status": status,
                    "duration_ms": duration_ms,
                    "author": scope.get(AUTHOR_SCOPE_KEY),
                },
            )
            leave_request(id_token)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None
