"""The ThumbHash encoder gives the reference implementation's hashes, byte for byte.

The expected strings were made by the reference itself (npm `thumbhash` 0.1.1, evanw's
`rgbaToThumbHash`, run under Node 20) on the very pixels `_pattern` builds; base64 as its demo
page prints them.
"""

from __future__ import annotations

import base64
import math

import pytest

from pixyproxy.domain.thumbhash import rgba_to_thumbhash, thumbhash_text


def _pattern(width: int, height: int, alpha: bool) -> bytes:
    """Ramps in red and green, a diagonal wave in blue, and optionally an alpha ramp."""
    out = bytearray()
    for y in range(height):
        for x in range(width):
            r = (x * 255) // max(1, width - 1)
            g = (y * 255) // max(1, height - 1)
            b = int(127.5 + 127.5 * math.sin((x + 2 * y) / 7))
            a = (x * y * 255) // max(1, (width - 1) * (height - 1)) if alpha else 255
            out += bytes((r, g, b, a))
    return bytes(out)


@pytest.mark.parametrize(
    ("width", "height", "alpha", "reference"),
    [
        (40, 30, False, "HwgKTZqShodwiIi3anhKaGCCCPh4"),
        (32, 21, False, "H/gJPZqBh4eweHiadXd2iHECA/h4"),
        (20, 50, True, "KAmCCgQkwtD2JbrwxQf+J4CHsIeId4g="),
        (32, 32, True, "5gmCHQQk8KWxpaap26TDD/4XgIewiIh3iA=="),
        (100, 37, True, "Z/mBCoQk0HbglV7Q0A39KICHsIeId4g="),
        # Symmetric: several coefficients land on a rounding boundary.
        (100, 100, False, "3wcKNxqAh3iAiHh4eHiIiIeHCAd3gH8H"),
        (1, 1, False, "CgQW/wAI9wiIh4hwj3CI+AiIcH/4AAAA"),
    ],
)
def test_hashes_match_the_reference_implementation(
    width: int, height: int, alpha: bool, reference: str
) -> None:
    hashed = rgba_to_thumbhash(width, height, _pattern(width, height, alpha))

    assert thumbhash_text(hashed) == reference
    assert base64.b64decode(reference) == hashed


def test_every_hash_fits_the_forty_characters_details_promise() -> None:
    longest = max(
        len(thumbhash_text(rgba_to_thumbhash(w, h, _pattern(w, h, alpha))))
        for w, h in ((32, 32), (32, 8), (8, 32), (32, 21))
        for alpha in (False, True)
    )
    assert longest <= 40


@pytest.mark.parametrize(("width", "height", "size"), [(101, 10, 4040), (0, 5, 0), (2, 2, 15)])
def test_pictures_it_cannot_hash_are_refused(width: int, height: int, size: int) -> None:
    with pytest.raises(ValueError):
        rgba_to_thumbhash(width, height, bytes(size))
