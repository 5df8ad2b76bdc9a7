"""A loopback server that speaks OpenAI's Images API, for tests and benchmarks.

It validates what the official SDK sends, answers with real (small) images, and can be scripted
to refuse, rate limit, fail, stall or return garbage. It counts every call, so a test can prove
that nothing was sent twice. uvicorn serves it from a background thread on its own event loop,
so hundreds of concurrent slow answers cost nothing but sockets.

As a pytest plugin it provides the `images_api` fixture. Standalone, for end-to-end runs and
benchmarks:

    python -m tests.support.images_api --host 127.0.0.1 --port 8099 --delay 1.0
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import io
import json
import socket
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from PIL import Image, ImageDraw
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

TEST_API_KEY = "sk-pixyproxy-test-4f2c9e"
SIZES = {"1024x1024", "1536x1024", "1024x1536", "auto"}
QUALITIES = {"low", "medium", "high", "auto"}
OUTPUT_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
KNOWN_PARAMS = {
    "model", "prompt", "n", "size", "quality", "output_format", "output_compression",
    "background", "moderation", "response_format", "user", "safety_identifier", "stream",
}  # fmt: skip

BEHAVIOURS = (
    "ok",
    "content_policy_violation",
    "moderation_blocked",
    "rate_limited",
    "insufficient_quota",
    "server_error",
    "slow",
    "not_an_image",
    "not_json",
    "broken_json",
    "dropped_connection",
    "bad_request",
    "unauthorized",
)
# Calls that never reach the script are counted under these names.
REJECTED_AUTH = "rejected_auth"
REJECTED_REQUEST = "rejected_request"


@dataclass(frozen=True, slots=True)
class Step:
    """One scripted answer. `retry_after` is the 429's Retry-After header (None: no header);
    `sleep_s` is how long a "slow" answer stalls; `param` is what a "bad_request" objects to."""

    kind: str = "ok"
    retry_after: str | None = "1"
    sleep_s: float = 10.0
    param: str = "model"

    def __post_init__(self) -> None:
        if self.kind not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {self.kind!r}; pick one of {BEHAVIOURS}")


@dataclass(frozen=True, slots=True)
class Call:
    """What the server received and how it answered."""

    body: dict[str, Any] | None
    authorization: str | None
    behaviour: str
    request_id: str


class ImagesApiServer:
    """The Images API on loopback. `script(...)` queues answers; unscripted calls succeed."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str = TEST_API_KEY,
        delay_s: float = 0.0,
    ) -> None:
        self.api_key = api_key
        self.delay_s = delay_s
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.host, self.port = self._socket.getsockname()[:2]
        self._lock = threading.Lock()
        self._script: deque[Step] = deque()
        self._calls: list[Call] = []
        self._hung_up: list[str] = []
        app = Starlette(routes=[Route("/v1/images/generations", self._generate, methods=["POST"])])
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="off", backlog=4096
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="images-api", daemon=True)

    @property
    def base_url(self) -> str:
        """What to give the SDK as `base_url`."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    @property
    def call_count(self) -> int:
        with self._lock:
            return len(self._calls)

    @property
    def calls_by_behaviour(self) -> Counter[str]:
        with self._lock:
            return Counter(c.behaviour for c in self._calls)

    @property
    def hung_up_on(self) -> set[str]:
        """Request ids of the slow answers whose client hung up before they were ready."""
        with self._lock:
            return set(self._hung_up)

    def script(self, *steps: str | Step) -> None:
        """Answer the next calls with these behaviours, in order, then succeed again."""
        with self._lock:
            self._script.extend(s if isinstance(s, Step) else Step(s) for s in steps)

    def reset(self) -> None:
        """Forget the script, the calls and the delay."""
        with self._lock:
            self._script.clear()
            self._calls.clear()
            self._hung_up.clear()
        self.delay_s = 0.0

    def start(self) -> ImagesApiServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Images API server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C interrupts)."""
        while self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def _run(self) -> None:
        self._server.run(sockets=[self._socket])

    def _record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def _next_step(self) -> Step:
        with self._lock:
            return self._script.popleft() if self._script else Step()

    async def _generate(self, request: Request) -> Response:
        request_id = f"req_{uuid.uuid4().hex}"
        response = await self._respond(request, request_id)
        response.headers["x-request-id"] = request_id
        return response

    async def _respond(self, request: Request, request_id: str) -> Response:
        auth = request.headers.get("authorization")
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if auth != f"Bearer {self.api_key}":
            self._record(
                Call(body if isinstance(body, dict) else None, auth, REJECTED_AUTH, request_id)
            )
            return _unauthorized(auth)
        if not isinstance(body, dict):
            self._record(Call(None, auth, REJECTED_REQUEST, request_id))
            return _error(400, "We could not parse the JSON body of your request.", None, None)
        problem = _validate(body)
        if problem is not None:
            self._record(Call(body, auth, REJECTED_REQUEST, request_id))
            return problem
        step = self._next_step()
        self._record(Call(body, auth, step.kind, request_id))
        response = await _answer(step, body, request, request_id)
        if step.kind == "slow" and await request.is_disconnected():
            with self._lock:
                self._hung_up.append(request_id)
        return response


def _validate(body: dict[str, Any]) -> Response | None:
    unknown = sorted(set(body) - KNOWN_PARAMS)
    if unknown:
        return _error(400, f"Unknown parameter: '{unknown[0]}'.", "unknown_parameter", unknown[0])
    model, prompt = body.get("model"), body.get("prompt")
    if not isinstance(model, str) or not model:
        return _error(400, "you must provide a model parameter", None, "model")
    if not isinstance(prompt, str) or not prompt.strip():
        return _error(
            400, "Missing required parameter: 'prompt'.", "missing_required_parameter", "prompt"
        )
    if model.startswith("gpt-image") and "response_format" in body:
        return _error(
            400, "Unknown parameter: 'response_format'.", "unknown_parameter", "response_format"
        )
    checks = (("size", SIZES), ("quality", QUALITIES), ("output_format", set(OUTPUT_FORMATS)))
    for param, allowed in checks:
        if param in body and body[param] not in allowed:
            message = f"Invalid value: '{body[param]}'. Supported values are: {sorted(allowed)}."
            return _error(400, message, "invalid_value", param)
    if body.get("n", 1) != 1:
        return _error(400, "This server makes one image per request.", "invalid_value", "n")
    return None


async def _answer(step: Step, body: dict[str, Any], request: Request, request_id: str) -> Response:
    if step.kind == "ok":
        return _image_response(body)
    if step.kind == "content_policy_violation":
        message = (
            "Your request was rejected as a result of our safety system. Your prompt may "
            "contain text that is not allowed by our safety system."
        )
        return _error(400, message, "content_policy_violation", None)
    if step.kind == "moderation_blocked":
        message = (
            "Your request was rejected by the safety system. If you believe this is an error, "
            "contact us at help.openai.com and include the request ID "
            f"{request_id}. safety_violations=[violence]."
        )
        return _error(400, message, "moderation_blocked", None, "image_generation_user_error")
    if step.kind == "rate_limited":
        headers = {} if step.retry_after is None else {"retry-after": step.retry_after}
        message = "Rate limit reached for images per minute. Please try again later."
        return _error(429, message, "rate_limit_exceeded", None, "requests", headers)
    if step.kind == "insufficient_quota":
        message = "You exceeded your current quota, please check your plan and billing details."
        return _error(429, message, "insufficient_quota", None, "insufficient_quota")
    if step.kind == "server_error":
        return _error(500, "The server had an error while processing your request.", None, None)
    if step.kind == "slow":
        deadline = time.monotonic() + step.sleep_s
        while time.monotonic() < deadline and not await request.is_disconnected():
            await asyncio.sleep(0.05)
        return _image_response(body)
    if step.kind == "not_an_image":
        payload = _success_payload(body, b"<html>certainly not an image</html>")
        return JSONResponse(payload)
    if step.kind == "not_json":
        return Response(b"\x00\x01 garbage, not JSON", media_type="application/octet-stream")
    if step.kind == "bad_request":
        message = f"Invalid value for '{step.param}': this server will not take it."
        return _error(400, message, "invalid_value", step.param)
    if step.kind == "dropped_connection":
        return _TruncatedResponse()
    if step.kind == "broken_json":
        return Response(
            b'{"created": 1, "data": [{"b64_json": "iVBO', media_type="application/json"
        )
    return _unauthorized(request.headers.get("authorization"))


class _TruncatedResponse(Response):
    """Promises a body, sends a sliver of it and hangs up: the request was surely processed."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"created": 1', "more_body": True})


def _image_response(body: dict[str, Any]) -> Response:
    fmt = body.get("output_format", "png")
    payload = _success_payload(body, sample_image(body["prompt"], body.get("size"), fmt))
    return JSONResponse(payload)


def _success_payload(body: dict[str, Any], image: bytes) -> dict[str, Any]:
    prompt: str = body["prompt"]
    input_tokens = len(prompt.split()) + 7
    return {
        "created": int(time.time()),
        "data": [
            {"b64_json": base64.b64encode(image).decode(), "revised_prompt": f"{prompt}, revised"}
        ],
        "output_format": body.get("output_format", "png"),
        "size": body.get("size", "1024x1024"),
        "quality": body.get("quality", "medium"),
        "usage": {
            "input_tokens": input_tokens,
            "input_tokens_details": {"image_tokens": 0, "text_tokens": input_tokens},
            "output_tokens": 1056,
            "total_tokens": input_tokens + 1056,
        },
    }


def sample_image(prompt: str, size: str | None, output_format: str = "png") -> bytes:
    """A small picture, 1/16 of the requested size, coloured by the prompt."""
    width, height = (
        int(n) // 16 for n in (size if size and size != "auto" else "1024x1024").split("x")
    )
    seed = hashlib.sha256(prompt.encode()).digest()
    picture = Image.new("RGB", (width, height), tuple(seed[:3]))
    ImageDraw.Draw(picture).ellipse(
        (width // 4, height // 4, width // 2, height // 2), fill=tuple(seed[3:6])
    )
    out = io.BytesIO()
    picture.save(out, format=OUTPUT_FORMATS[output_format])
    return out.getvalue()


def _error(
    status: int,
    message: str,
    code: str | None,
    param: str | None,
    error_type: str = "invalid_request_error",
    headers: dict[str, str] | None = None,
) -> Response:
    error = {"message": message, "type": error_type, "param": param, "code": code}
    return JSONResponse({"error": error}, status_code=status, headers=headers)


def _unauthorized(auth: str | None) -> Response:
    # Echoes the credential back, as careless upstreams do, so tests can prove it never leaks
    # from pixyproxy's logs or errors.
    key = (auth or "").removeprefix("Bearer ")
    message = f"Incorrect API key provided: {key}. You can find your API key in your account."
    return _error(401, message, "invalid_api_key", None)


@pytest.fixture(scope="session")
def _images_api_server() -> Iterator[ImagesApiServer]:
    server = ImagesApiServer().start()
    yield server
    server.stop()


@pytest.fixture
def images_api(_images_api_server: ImagesApiServer) -> Iterator[ImagesApiServer]:
    """The session's Images API server, with a clean script, call log and delay."""
    _images_api_server.reset()
    yield _images_api_server
    _images_api_server.reset()


def main() -> None:
    parser = argparse.ArgumentParser(description="A loopback OpenAI Images API for pixyproxy")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before every answer")
    parser.add_argument("--api-key", default=TEST_API_KEY)
    args = parser.parse_args()
    server = ImagesApiServer(args.host, args.port, api_key=args.api_key, delay_s=args.delay)
    server.start()
    print(server.base_url, flush=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
