"""What renditions cost a generation, end to end: scenario 6 of `make bench`.

`uvicorn bench.renditions:create_app --factory` is pixyproxy whose image model answers at once
with the same photo-like 1536x1024 PNG (2.2 MB, `bench.imaging.photo_png`), so a generation
costs what storing it costs. With `BENCH_EAGER=0` it stores images without their thumbnail and
placeholder (replaced in this process only, as `bench.ablations` does), the way pixyproxy
stored them before renditions. `generation_latencies` times generations through both, in
turns, over HTTP.
"""

from __future__ import annotations

import os
import statistics
import time

import httpx
from dependency_injector import providers
from fastapi import FastAPI

from bench.imaging import HEIGHT, WIDTH, photo_png
from pixyproxy.adapters.driving.web import app as web_app
from pixyproxy.adapters.driving.web.observability import configure_logging
from pixyproxy.app.renditions import NewImageDerivatives, Renditions
from pixyproxy.app.settings import Settings
from pixyproxy.bootstrap import build_container
from pixyproxy.domain.models import (
    GeneratedImage,
    GenerationRequest,
    GeneratorCapabilities,
    ImageContent,
)
from pixyproxy.ports.image_generator import ImageGenerator

MODEL = "bench-photo"


class PhotoGenerator(ImageGenerator):
    """A model that answers every prompt at once with the same photo-like picture."""

    def __init__(self) -> None:
        self._picture = photo_png()

    def capabilities(self) -> GeneratorCapabilities:
        return GeneratorCapabilities(
            model=MODEL,
            sizes=frozenset({f"{WIDTH}x{HEIGHT}"}),
            qualities=frozenset({"auto"}),
            max_duration_s=5.0,
        )

    async def generate(self, request: GenerationRequest) -> GeneratedImage:
        return GeneratedImage(self._picture, "image/png", WIDTH, HEIGHT, MODEL)


def _no_derivatives(self: Renditions, original: ImageContent, data: bytes) -> NewImageDerivatives:
    return NewImageDerivatives()


def create_app() -> FastAPI:
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    if os.environ.get("BENCH_EAGER", "1") == "0":
        Renditions.derive_for_new_image = _no_derivatives  # type: ignore[method-assign]
    container = build_container(settings)
    container.image_generator.override(providers.Object(PhotoGenerator()))
    return web_app.create_app(settings, container)


def generation_latencies(apps: dict[str, str], key: str, calls: int) -> dict[str, list[float]]:
    """`calls` generations through each app (name -> base URL), one at a time, the apps in
    turns after one warm-up call each; the wall time of each in ms. The images made are
    deleted again (2.2 MB each)."""
    timings: dict[str, list[float]] = {name: [] for name in apps}
    made: list[tuple[str, str]] = []
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(timeout=60, headers=headers) as http:
        for round_ in range(calls + 1):
            for name, base in apps.items():
                started = time.perf_counter()
                answer = http.post(f"{base}/image", json={"prompt": f"{name} {round_}"})
                took_ms = (time.perf_counter() - started) * 1000
                answer.raise_for_status()
                made.append((base, answer.json()["guid"]))
                if round_:
                    timings[name].append(took_ms)
        for base, guid in made:
            http.delete(f"{base}/image/{guid}").raise_for_status()
    return timings


def added_ms(timings: dict[str, list[float]], with_: str, without: str) -> float:
    """What the median generation with `with_` takes longer than one with `without`."""
    return statistics.median(timings[with_]) - statistics.median(timings[without])
