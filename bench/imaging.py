"""`python -m bench.imaging`: what a rendition costs, in this process, against decoding alone.

- The imaging library: a 256-px WebP of a 1536x1024 PNG (2.2 MB, like a gpt-image output) with
  Pillow as pixyproxy's adapter does it, with Pillow's plain Lanczos, and with pyvips
  (`pip install pyvips pyvips-binary`; `make bench` installs them), each against Pillow's and
  pyvips's own decode of the PNG alone. pixyproxy keeps the faster library unless its gain
  is under 1.2x.
- The eager work of a generation: the thumbnail and the placeholder from one decode.

Variants alternate call by call, so a slow moment of the machine hits all of them; each figure
is the median of the calls, wall time in this one thread (pyvips may use more threads: its CPU
time is given too).
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image

from pixyproxy.adapters.driven.image_generator_local import render_png
from pixyproxy.adapters.driven.image_renderer_pillow import PillowImageRenderer
from pixyproxy.domain.renditions import THUMBNAIL

WIDTH, HEIGHT = 1536, 1024


def photo_png(width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """A PNG that weighs what a photo-like model output does (~2.2 MB at 1536x1024): the
    offline generator's picture under seeded grain, which PNG cannot compress away."""
    base = Image.open(io.BytesIO(render_png("a lighthouse at dusk", width, height)))
    grain = Image.frombytes("RGB", (width, height), random.Random(7).randbytes(width * height * 3))
    out = io.BytesIO()
    Image.blend(base.convert("RGB"), grain, 0.03).save(out, format="PNG")
    return out.getvalue()


@dataclass(frozen=True)
class Timing:
    wall_ms: float
    cpu_ms: float


def alternate(variants: dict[str, Callable[[], object]], calls: int) -> dict[str, Timing]:
    """Each variant once per round, `calls` rounds after one warm-up round; medians."""
    walls: dict[str, list[float]] = {name: [] for name in variants}
    cpus: dict[str, list[float]] = {name: [] for name in variants}
    for round_ in range(calls + 1):
        for name, call in variants.items():
            cpu, wall = time.process_time(), time.perf_counter()
            call()
            if round_:
                walls[name].append(time.perf_counter() - wall)
                cpus[name].append(time.process_time() - cpu)
    return {
        name: Timing(statistics.median(walls[name]) * 1000, statistics.median(cpus[name]) * 1000)
        for name in variants
    }


def pillow_decode(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as image:
        image.load()


def pillow_plain_lanczos(data: bytes) -> bytes:
    """What a straightforward Pillow rendition does: Lanczos over the whole picture."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        small = image.resize(
            (256, round(image.height * 256 / image.width)), Image.Resampling.LANCZOS
        )
    out = io.BytesIO()
    small.save(out, format="WEBP", quality=80)
    return out.getvalue()


def _pyvips() -> Any:
    try:
        import pyvips  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except (ImportError, OSError):
        return None
    return pyvips


def variants(data: bytes) -> dict[str, Callable[[], object]]:
    renderer = PillowImageRenderer()
    found: dict[str, Callable[[], object]] = {
        "pillow decode": lambda: pillow_decode(data),
        "pillow 256 webp (pixyproxy)": lambda: renderer.derive(data, [THUMBNAIL]),
        "pillow 256 webp, plain lanczos": lambda: pillow_plain_lanczos(data),
        "pillow thumbnail + placeholder": lambda: renderer.derive(
            data, [THUMBNAIL], placeholder=True
        ),
    }
    pyvips = _pyvips()
    if pyvips is not None:
        found["pyvips decode"] = lambda: pyvips.Image.new_from_buffer(
            data, "", access="sequential"
        ).copy_memory()
        found["pyvips 256 webp"] = lambda: pyvips.Image.thumbnail_buffer(data, 256).webpsave_buffer(
            Q=80
        )
    return found


@dataclass(frozen=True)
class ImagingResult:
    timings: dict[str, Timing]
    png_bytes: int
    pyvips_version: str | None

    def ratio(self, a: str, b: str) -> float | None:
        if a not in self.timings or b not in self.timings:
            return None
        return self.timings[a].wall_ms / self.timings[b].wall_ms


def measure(calls: int = 30) -> ImagingResult:
    data = photo_png()
    pyvips = _pyvips()
    version = None if pyvips is None else ".".join(str(pyvips.version(i)) for i in range(3))
    return ImagingResult(alternate(variants(data), calls), len(data), version)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.imaging", description=__doc__)
    parser.add_argument("--calls", type=int, default=30, help="calls per variant")
    args = parser.parse_args(argv)
    result = measure(args.calls)
    print(f"1536x1024 PNG of {result.png_bytes:,} bytes; libvips {result.pyvips_version}")
    for name, timing in result.timings.items():
        print(f"  {name:<34} {timing.wall_ms:7.1f} ms wall {timing.cpu_ms:7.1f} ms CPU")
    pillow = result.ratio("pillow 256 webp (pixyproxy)", "pillow decode")
    print(f"pixyproxy's 256-px WebP: {pillow:.2f}x of the PNG decode alone")
    gain = result.ratio("pillow 256 webp (pixyproxy)", "pyvips 256 webp")
    if gain is not None:
        print(f"pyvips is {gain:.2f}x as fast as pixyproxy's Pillow rendition")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
