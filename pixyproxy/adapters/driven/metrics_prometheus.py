"""Generation metrics for Prometheus (prometheus-client)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from pixyproxy.ports.metrics import GenerationMetrics

# Image models answer in seconds to minutes, so the buckets reach far.
UPSTREAM_BUCKETS = (0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)


class PrometheusGenerationMetrics(GenerationMetrics):
    def __init__(self, registry: CollectorRegistry) -> None:
        self._generations = Counter(
            "pixyproxy_generations",
            "Calls to the image model, by outcome.",
            ["outcome"],
            registry=registry,
        )
        self._latency = Histogram(
            "pixyproxy_generation_upstream_seconds",
            "Time spent waiting on the image model, by outcome.",
            ["outcome"],
            buckets=UPSTREAM_BUCKETS,
            registry=registry,
        )
        self._stored = Counter(
            "pixyproxy_images_stored", "Images whose bytes and row were written.", registry=registry
        )
        self._stored_bytes = Counter(
            "pixyproxy_image_bytes_stored", "Bytes of images stored.", registry=registry
        )

    def generation_finished(self, outcome: str, seconds: float) -> None:
        self._generations.labels(outcome).inc()
        self._latency.labels(outcome).observe(seconds)

    def image_stored(self, byte_size: int) -> None:
        self._stored.inc()
        self._stored_bytes.inc(byte_size)
