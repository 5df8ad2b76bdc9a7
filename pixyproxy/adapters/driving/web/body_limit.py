"""Refuse request bodies over a byte limit before reading them whole."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pixyproxy.adapters.driving.web.problems import PAYLOAD_TOO_LARGE, problem_of


class BodySizeLimitMiddleware:
    """A declared `Content-Length` over the limit is refused at once; a chunked body is
    counted as it streams and refused the moment it passes the limit."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            await problem_of(Request(scope), PAYLOAD_TOO_LARGE, self._detail)(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    # FastAPI re-raises HTTPException from body parsing untouched, so the
                    # problem handler renders it like any other refusal.
                    raise HTTPException(413, self._detail)
            return message

        await self.app(scope, counting_receive, send)

    @property
    def _detail(self) -> str:
        return f"request bodies are limited to {self.max_body_bytes} bytes"
