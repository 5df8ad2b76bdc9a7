"""The offline generator: deterministic, visibly different per prompt, honest about itself."""

from __future__ import annotations

import asyncio
import io
import time

import pytest
from PIL import Image, ImageChops, ImageStat

from pixyproxy.adapters.driven.image_generator_local import LocalImageGenerator
from pixyproxy.domain.models import GenerationRequest, Usage


def _pixels(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


async def test_the_same_prompt_and_size_give_the_same_bytes() -> None:
    generator = LocalImageGenerator()
    request = GenerationRequest("a windmill", size="1536x1024", quality="medium")

    first = await generator.generate(request)
    again = await LocalImageGenerator().generate(request)

    assert first.data == again.data


@pytest.mark.parametrize(
    ("one", "other"),
    [("a windmill", "a windmill."), ("a cat", "a dog"), ("sunrise", "sunset")],
)
async def test_different_prompts_look_different(one: str, other: str) -> None:
    generator = LocalImageGenerator()

    first = _pixels((await generator.generate(GenerationRequest(one))).data)
    second = _pixels((await generator.generate(GenerationRequest(other))).data)

    mean_difference = sum(ImageStat.Stat(ImageChops.difference(first, second)).mean) / 3
    assert mean_difference > 20


@pytest.mark.parametrize(
    ("size", "quality", "dimensions"),
    [
        (None, None, (1024, 1024)),
        ("auto", "low", (1024, 1024)),
        ("1536x1024", "medium", (1536, 1024)),
        ("1024x1536", "auto", (1024, 1536)),
        ("1024x1536", "high", (1024, 1536)),
    ],
)
async def test_the_picture_is_drawn_at_the_size_asked_for_whatever_the_quality(
    size: str | None, quality: str | None, dimensions: tuple[int, int]
) -> None:
    image = await LocalImageGenerator().generate(GenerationRequest("a pier", size, quality))

    assert (image.width, image.height) == dimensions
    assert Image.open(io.BytesIO(image.data)).size == dimensions


async def test_it_never_passes_for_an_ai_model() -> None:
    generator = LocalImageGenerator()

    image = await generator.generate(GenerationRequest("a portrait"))

    assert generator.capabilities().model == image.model == "pixyproxy-local"
    assert image.content_type == "image/png"
    assert image.usage == Usage()
    assert image.revised_prompt is None and image.upstream_request_id is None


async def test_the_delay_is_waited_concurrently() -> None:
    generator = LocalImageGenerator(delay_s=0.3)
    started = time.monotonic()

    await asyncio.gather(*(generator.generate(GenerationRequest(f"boat {i}")) for i in range(4)))

    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 1.2


def test_a_negative_delay_is_refused() -> None:
    with pytest.raises(ValueError, match="delay_s"):
        LocalImageGenerator(delay_s=-1)
