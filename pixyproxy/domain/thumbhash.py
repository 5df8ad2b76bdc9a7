"""ThumbHash (https://evanw.github.io/thumbhash/): a blurred preview of an image in about 25
bytes, which a client decodes into a placeholder (colours, shape, alpha and aspect ratio).

The encoder of the reference implementation (evanw/thumbhash, `rgbaToThumbHash`), ported line
for line, down to the order in which each coefficient's terms are added: a coefficient that
lands on a rounding boundary (symmetric pictures have many) then rounds as it does there, and
the hashes are the reference's byte for byte. Pure Python costs about 4 us a pixel, so callers
hand it a picture already shrunk to 16 pixels on its longer side (`PLACEHOLDER_SIDE`, ~1 ms):
the hash keeps only the lowest seven frequencies, which such a picture still holds (on three
test pictures, its hash was within 0-3 steps in all of its ~50 nibbles of the hash of a
64-px picture, which costs 15-35 ms).
"""

from __future__ import annotations

import base64
import functools
import math
import operator
from collections.abc import Sequence

MAX_SIDE = 100
# What renderers shrink a picture to, on its longer side, before hashing it.
PLACEHOLDER_SIDE = 16


def _round(value: float) -> int:
    # JavaScript's Math.round: halves go up, where Python's round goes to even.
    return math.floor(value + 0.5)


def rgba_to_thumbhash(width: int, height: int, rgba: bytes) -> bytes:
    """The ThumbHash of `width` x `height` pixels (each side at most 100), given row by row
    as RGBA bytes not premultiplied by alpha. Raises `ValueError` for other shapes."""
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise ValueError(f"{width}x{height} does not fit in {MAX_SIDE}x{MAX_SIDE}")
    if len(rgba) != width * height * 4:
        raise ValueError(f"{width}x{height} RGBA pixels take {width * height * 4} bytes")
    pixels = width * height
    xs = range(width)
    alphas = [rgba[i + 3] / 255 for i in range(0, pixels * 4, 4)]
    avg_r = avg_g = avg_b = avg_a = 0.0
    for i, alpha in enumerate(alphas):
        j = i * 4
        avg_r += alpha / 255 * rgba[j]
        avg_g += alpha / 255 * rgba[j + 1]
        avg_b += alpha / 255 * rgba[j + 2]
        avg_a += alpha
    if avg_a:
        avg_r /= avg_a
        avg_g /= avg_a
        avg_b /= avg_a

    has_alpha = avg_a < pixels
    l_limit = 5 if has_alpha else 7  # fewer luminance bits when alpha needs some
    longest = max(width, height)
    lx = max(1, _round(l_limit * width / longest))
    ly = max(1, _round(l_limit * height / longest))

    # RGBA to LPQA, composited atop the average colour.
    lum: list[float] = []
    yellow_blue: list[float] = []
    red_green: list[float] = []
    for i, alpha in enumerate(alphas):
        j = i * 4
        r = avg_r * (1 - alpha) + alpha / 255 * rgba[j]
        g = avg_g * (1 - alpha) + alpha / 255 * rgba[j + 1]
        b = avg_b * (1 - alpha) + alpha / 255 * rgba[j + 2]
        lum.append((r + g + b) / 3)
        yellow_blue.append((r + g) / 2 - b)
        red_green.append(r - g)

    def encode(channel: Sequence[float], nx: int, ny: int) -> tuple[float, list[float], float]:
        dc, ac, scale = 0.0, [], 0.0
        for cy in range(ny):
            # The row's cosine for every pixel, row by row, as `channel` is laid out.
            fy = [math.cos(math.pi / height * cy * (y + 0.5)) for y in range(height) for _ in xs]
            cx = 0
            while cx * ny < nx * (ny - cy):
                fx = [math.cos(math.pi / width * cx * (x + 0.5)) for x in xs] * height
                # (value * fx) * fy, added left to right from 0: the reference's own order,
                # so that coefficients that land on a rounding boundary round as there.
                terms = map(operator.mul, map(operator.mul, channel, fx), fy)
                f = functools.reduce(operator.add, terms, 0.0) / pixels
                if cx or cy:
                    ac.append(f)
                    scale = max(scale, abs(f))
                else:
                    dc = f
                cx += 1
        if scale:
            ac = [0.5 + 0.5 / scale * f for f in ac]
        return dc, ac, scale

    l_dc, l_ac, l_scale = encode(lum, max(3, lx), max(3, ly))
    p_dc, p_ac, p_scale = encode(yellow_blue, 3, 3)
    q_dc, q_ac, q_scale = encode(red_green, 3, 3)
    a_dc, a_ac, a_scale = encode(alphas, 5, 5) if has_alpha else (0.0, [], 0.0)

    is_landscape = width > height
    header24 = (
        _round(63 * l_dc)
        | (_round(31.5 + 31.5 * p_dc) << 6)
        | (_round(31.5 + 31.5 * q_dc) << 12)
        | (_round(31 * l_scale) << 18)
        | (int(has_alpha) << 23)
    )
    header16 = (
        (ly if is_landscape else lx)
        | (_round(63 * p_scale) << 3)
        | (_round(63 * q_scale) << 9)
        | (int(is_landscape) << 15)
    )
    out = [header24 & 255, (header24 >> 8) & 255, header24 >> 16, header16 & 255, header16 >> 8]
    if has_alpha:
        out.append(_round(15 * a_dc) | (_round(15 * a_scale) << 4))
    factors = [*l_ac, *p_ac, *q_ac, *a_ac]
    out.extend([0] * ((len(factors) + 1) // 2))
    start = len(out) - (len(factors) + 1) // 2
    for index, f in enumerate(factors):
        out[start + (index >> 1)] |= _round(15 * f) << ((index & 1) << 2)
    return bytes(out)


def thumbhash_text(hash_bytes: bytes) -> str:
    """The form clients receive: standard base64 (at most 36 characters)."""
    return base64.b64encode(hash_bytes).decode("ascii")
