"""What the end-to-end tests say to a running pixyproxy, and how they judge its answers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

PROBLEM_MEDIA_TYPE = "application/problem+json"
# What every response carries, whatever its status (see observability.SECURITY_HEADERS).
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """`response` is an RFC 9457 problem with `status`; returns its body."""
    assert response.status_code == status, f"{response.status_code} {response.text}"
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE, response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def assert_security_headers(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (response.status_code, name, response.headers)
    assert response.headers.get("x-request-id")


def all_images(http: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    """Every image the listing shows, newest first, following `Link: rel="next"`."""
    found: list[dict[str, Any]] = []
    response = http.get("/image", params={"limit": 500, **params})
    while True:
        assert response.status_code == 200, response.text
        found.extend(response.json())
        following = response.links.get("next")
        if following is None:
            return found
        response = http.get(following["url"])


@dataclass(frozen=True)
class Outcome:
    """One request a `Hammer` sent: its status, or the transport error that replaced it."""

    label: str
    started: float
    finished: float
    status: int | None
    content_type: str | None
    error: str | None = None

    @property
    def elapsed(self) -> float:
        return self.finished - self.started


Call = Callable[[httpx.Client, int], tuple[str, httpx.Response]]


class Hammer:
    """`workers` threads, each with its own connection, sending `call(client, n)` back to
    back until `stop()`; every request is bounded by `timeout_s` and recorded."""

    def __init__(self, base_url: str, call: Call, workers: int, timeout_s: float) -> None:
        self._base_url = base_url
        self._call = call
        self._timeout_s = timeout_s
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._counter = 0
        self.outcomes: list[Outcome] = []
        self._threads = [threading.Thread(target=self._work, daemon=True) for _ in range(workers)]

    def __enter__(self) -> Hammer:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> list[Outcome]:
        self._stopping.set()
        for thread in self._threads:
            thread.join(self._timeout_s + 5)
            assert not thread.is_alive(), "a client thread outlived its request timeout"
        return self.outcomes

    def _next(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    def _work(self) -> None:
        with httpx.Client(base_url=self._base_url, timeout=self._timeout_s) as client:
            while not self._stopping.is_set():
                n = self._next()
                started = time.monotonic()
                try:
                    label, response = self._call(client, n)
                except httpx.HTTPError as e:
                    outcome = Outcome(f"#{n}", started, time.monotonic(), None, None, repr(e))
                else:
                    outcome = Outcome(
                        label,
                        started,
                        time.monotonic(),
                        response.status_code,
                        response.headers.get("content-type"),
                    )
                with self._lock:
                    self.outcomes.append(outcome)
