"""What every ImageGenerator promises, checked on the offline generator and on OpenAI's SDK
talking to a loopback Images API."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator

import pytest
from PIL import Image

from pixyproxy.adapters.driven.image_generator_local import LocalImageGenerator
from pixyproxy.adapters.driven.image_generator_openai import OpenAIImageGenerator
from pixyproxy.domain.exceptions import UnsupportedGenerationOption
from pixyproxy.domain.models import GenerationRequest
from pixyproxy.ports.image_generator import ImageGenerator
from tests.support.images_api import TEST_API_KEY, ImagesApiServer

FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}


@pytest.fixture(params=["local", "openai"])
async def generator(
    request: pytest.FixtureRequest, images_api: ImagesApiServer
) -> AsyncIterator[ImageGenerator]:
    built: ImageGenerator
    if request.param == "local":
        built = LocalImageGenerator()
    else:
        built = OpenAIImageGenerator(TEST_API_KEY, base_url=images_api.base_url, timeout_s=10)
    yield built
    await built.aclose()


def _aspect(size: str) -> float:
    if size == "auto":
        return 1.0
    width, height = (int(n) for n in size.split("x"))
    return width / height


def test_capabilities_name_a_model_and_offer_auto(generator: ImageGenerator) -> None:
    capabilities = generator.capabilities()
    assert capabilities.model
    assert "auto" in capabilities.sizes
    assert "auto" in capabilities.qualities
    for size in capabilities.sizes - {"auto"}:
        width, height = (int(n) for n in size.split("x"))
        assert width > 0 and height > 0


async def test_default_generation_is_a_verified_image_of_the_stated_kind(
    generator: ImageGenerator,
) -> None:
    image = await generator.generate(GenerationRequest(prompt="a lighthouse at dusk"))

    decoded = Image.open(io.BytesIO(image.data))
    assert decoded.format == FORMATS[image.content_type]
    assert decoded.size == (image.width, image.height)
    decoded.load()
    assert image.model == generator.capabilities().model


async def test_every_offered_size_gives_its_aspect_ratio(generator: ImageGenerator) -> None:
    for size in sorted(generator.capabilities().sizes):
        image = await generator.generate(GenerationRequest(prompt="a red kite", size=size))
        assert Image.open(io.BytesIO(image.data)).size == (image.width, image.height)
        assert image.width / image.height == pytest.approx(_aspect(size), rel=0.01), size


async def test_every_offered_quality_gives_an_image(generator: ImageGenerator) -> None:
    for quality in sorted(generator.capabilities().qualities):
        image = await generator.generate(GenerationRequest(prompt="a fern", quality=quality))
        assert Image.open(io.BytesIO(image.data)).size == (image.width, image.height)


@pytest.mark.parametrize(
    "request_", [GenerationRequest("a", size="640x480"), GenerationRequest("a", quality="hd")]
)
async def test_options_outside_the_capabilities_are_refused(
    generator: ImageGenerator, request_: GenerationRequest
) -> None:
    with pytest.raises(UnsupportedGenerationOption):
        await generator.generate(request_)


async def test_generating_leaves_the_event_loop_free(
    generator: ImageGenerator, images_api: ImagesApiServer
) -> None:
    # Four concurrent full-resolution drawings (or decodes of the upstream's answers) done on
    # the loop would take its thread well over 100 ms of CPU between two ticks. The loop
    # thread's own CPU time is measured, not the wall clock: on a busy machine a tick may
    # wake late for reasons that have nothing to do with what runs on the loop.
    images_api.delay_s = 0.5
    gaps: list[float] = []

    async def tick() -> None:
        last = time.thread_time()
        while True:
            await asyncio.sleep(0.01)
            now = time.thread_time()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    try:
        await asyncio.gather(
            *(
                generator.generate(GenerationRequest(f"market {i}", "1536x1024", "high"))
                for i in range(4)
            )
        )
    finally:
        ticker.cancel()
    assert len(gaps) > 3
    assert max(gaps) < 0.05
