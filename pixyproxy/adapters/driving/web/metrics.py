"""HTTP metrics and the `/metrics` endpoint. Route labels are templates, never raw paths."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120)
UNMATCHED_ROUTE = "<unmatched>"


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._requests = Counter(
            "pixyproxy_http_requests",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=registry,
        )
        self._latency = Histogram(
            "pixyproxy_http_request_duration_seconds",
            "HTTP request duration by route template and method.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, route: str | None, method: str, status: int, seconds: float) -> None:
        key = (route or UNMATCHED_ROUTE, method, status)
        children = self._children.get(key)
        if children is None:
            # labels() validates and locks on every call; its children are kept instead.
            # Bounded: route templates, the methods the HTTP parser knows, and status codes.
            children = (
                self._requests.labels(key[0], method, str(status)),
                self._latency.labels(key[0], method),
            )
            self._children[key] = children
        count, latency = children
        count.inc()
        latency.observe(seconds)


def register_gauges(
    registry: CollectorRegistry, gauges: dict[str, tuple[str, Callable[[], float]]]
) -> None:
    for name, (help_text, read) in gauges.items():
        Gauge(name, help_text, registry=registry).set_function(read)
