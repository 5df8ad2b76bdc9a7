"""An offline image generator: deterministic abstract pictures drawn from the prompt.

It stands in for an image model in development, demos and tests, and says so: its model name is
`pixyproxy-local` and every picture carries a small `pixyproxy-local` mark. The same prompt and
size always give the same bytes (for one Pillow build), and different prompts look different.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import random

from PIL import Image, ImageDraw, ImageFont

from pixyproxy.domain.exceptions import UnsupportedGenerationOption
from pixyproxy.domain.models import GeneratedImage, GenerationRequest, GeneratorCapabilities
from pixyproxy.ports.image_generator import ImageGenerator

SIZES = frozenset({"1024x1024", "1536x1024", "1024x1536", "auto"})
QUALITIES = frozenset({"low", "medium", "high", "auto"})
DEFAULT_SIZE = "1024x1024"
MARK = "pixyproxy-local"

# Drawing takes well under a second; a worker this slow is stuck, not drawing.
_DRAWING_BUDGET_S = 30.0


class LocalImageGenerator(ImageGenerator):
    """Draws pictures with Pillow in a worker thread; `delay_s` imitates upstream latency."""

    def __init__(self, model: str = "pixyproxy-local", delay_s: float = 0.0) -> None:
        if delay_s < 0:
            raise ValueError("delay_s must not be negative")
        self._model = model
        self._delay_s = delay_s

    def capabilities(self) -> GeneratorCapabilities:
        """The GPT image models' sizes and qualities: the fake accepts what the real one does."""
        return GeneratorCapabilities(
            model=self._model,
            sizes=SIZES,
            qualities=QUALITIES,
            max_duration_s=self._delay_s + _DRAWING_BUDGET_S,
        )

    async def generate(self, request: GenerationRequest) -> GeneratedImage:
        """Draw the prompt's picture. Raises `UnsupportedGenerationOption` for unknown options."""
        width, height = _pixel_size(request.size, request.quality)
        if self._delay_s:
            await asyncio.sleep(self._delay_s)
        data = await asyncio.to_thread(render_png, request.prompt, width, height)
        return GeneratedImage(
            data=data, content_type="image/png", width=width, height=height, model=self._model
        )


def _pixel_size(size: str | None, quality: str | None) -> tuple[int, int]:
    size = size or "auto"
    quality = quality or "auto"
    if size not in SIZES:
        raise UnsupportedGenerationOption(f"size {size!r} is not one of {sorted(SIZES)}")
    if quality not in QUALITIES:
        raise UnsupportedGenerationOption(f"quality {quality!r} is not one of {sorted(QUALITIES)}")
    # Drawn at the size asked for, whatever the quality, so that what is stored and served
    # (and rendered from) weighs what a model's picture does: 1024x1024 takes ~30 ms.
    width, height = (int(n) for n in (DEFAULT_SIZE if size == "auto" else size).split("x"))
    return width, height


def render_png(prompt: str, width: int, height: int) -> bytes:
    """The prompt's picture as PNG bytes: a gradient, a handful of shapes and the mark."""
    # Seeded by the prompt alone, so one prompt looks alike at every size and quality.
    rng = random.Random(hashlib.sha256(prompt.encode()).digest())
    picture = _gradient(rng, width, height)
    overlay = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for _ in range(rng.randint(4, 9)):
        _shape(draw, rng, width, height)
    picture = Image.alpha_composite(picture.convert("RGBA"), overlay).convert("RGB")
    _mark(ImageDraw.Draw(picture), width, height)
    out = io.BytesIO()
    picture.save(out, format="PNG", compress_level=3)
    return out.getvalue()


def _colour(rng: random.Random, alpha: int = 255) -> tuple[int, int, int, int]:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256), alpha)


def _gradient(rng: random.Random, width: int, height: int) -> Image.Image:
    start, end = _colour(rng)[:3], _colour(rng)[:3]
    if rng.random() < 0.3:
        ramp = Image.radial_gradient("L")
    else:
        ramp = Image.linear_gradient("L").rotate(rng.choice((0, 45, 90, 135, 180, 270)))
    mask = ramp.resize((width, height), Image.Resampling.BILINEAR)
    return Image.composite(
        Image.new("RGB", (width, height), end), Image.new("RGB", mask.size, start), mask
    )


def _shape(draw: ImageDraw.ImageDraw, rng: random.Random, width: int, height: int) -> None:
    colour = _colour(rng, alpha=rng.randint(90, 220))
    x0, x1 = sorted(rng.uniform(-0.1, 1.1) * width for _ in range(2))
    y0, y1 = sorted(rng.uniform(-0.1, 1.1) * height for _ in range(2))
    kind = rng.choice(("ellipse", "rectangle", "polygon", "ring"))
    if kind == "ellipse":
        draw.ellipse((x0, y0, x1, y1), fill=colour)
    elif kind == "rectangle":
        draw.rounded_rectangle((x0, y0, x1, y1), radius=rng.uniform(0, 0.1) * width, fill=colour)
    elif kind == "ring":
        draw.ellipse((x0, y0, x1, y1), outline=colour, width=max(2, width // rng.randint(20, 60)))
    else:
        corners = [
            (rng.uniform(0, width), rng.uniform(0, height)) for _ in range(rng.randint(3, 6))
        ]
        draw.polygon(corners, fill=colour)


def _mark(draw: ImageDraw.ImageDraw, width: int, height: int) -> None:
    font = ImageFont.load_default(size=max(9, width // 28))
    left, top, right, bottom = draw.textbbox((0, 0), MARK, font=font)
    margin = max(3, width // 80)
    origin = (width - (right - left) - margin - left, height - (bottom - top) - margin - top)
    draw.text(origin, MARK, font=font, fill=(255, 255, 255), stroke_width=1, stroke_fill=(0, 0, 0))
