"""Renditions and placeholders with Pillow.

Chosen over pyvips by measurement (`python -m bench.imaging`, and scenario 6 of `make bench`):
with the resize Pillow's own `thumbnail` uses (Lanczos after a box reduction to twice the
target, `reducing_gap=2.0`), a 256-px WebP of a 1536x1024 photo-like PNG took 36.5 ms against
pyvips's 34.9-35.3 ms (a gain of 1.03-1.05x, under the 1.2x that would pay for a second
imaging library in every install), and 1.21-1.22x of Pillow's decode of the PNG alone.

Every decode starts from the header: an image with more pixels than `max_pixels` is refused
before a byte of it is decompressed, so a decompression bomb costs nothing but its header.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image, ImageOps, UnidentifiedImageError, features

from pixyproxy.domain.exceptions import ImageTooLarge, UnreadableImage
from pixyproxy.domain.renditions import Derivatives, RenderedImage, RenditionSpec, fitted_size
from pixyproxy.domain.thumbhash import PLACEHOLDER_SIDE, rgba_to_thumbhash, thumbhash_text
from pixyproxy.ports.image_renderer import ImageRenderer

DEFAULT_MAX_PIXELS = 50_000_000
# Lanczos after a box reduction to twice the target size: what `Image.thumbnail` does; a
# third of plain Lanczos's time on a 6x reduction, and no visible difference.
_REDUCING_GAP = 2.0
# Per format: Pillow's save options. WebP at method 2: a 256-px WebP in 1.2 ms instead of
# 2.9 ms at the default 4 (a 1024-px one in 15 ms instead of 40), 6% larger; that keeps a
# first render within 1.3x of the PNG decode it starts with. AVIF at speed 8: a 1024-px AVIF
# in ~50 ms instead of ~160 ms at the default 6, a quarter larger.
_SAVE_OPTIONS: dict[str, tuple[str, dict[str, object]]] = {
    "webp": ("WEBP", {"quality": 80, "method": 2}),
    "avif": ("AVIF", {"quality": 60, "speed": 8}),
    "jpeg": ("JPEG", {"quality": 85}),
    "png": ("PNG", {"compress_level": 3}),
}
_ORIENTATION = 0x0112
_OPAQUE_MODES = {"RGB"}
_ALPHA_MODES = {"RGBA"}


class PillowImageRenderer(ImageRenderer):
    def __init__(self, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        if max_pixels < 1:
            raise ValueError("max_pixels must be positive")
        self._max_pixels = max_pixels
        self._formats = tuple(
            name for name in _SAVE_OPTIONS if name != "avif" or features.check("avif")
        )

    def formats(self) -> tuple[str, ...]:
        """WebP, JPEG and PNG; AVIF when this Pillow build has it."""
        return self._formats

    def derive(
        self, data: bytes, specs: Sequence[RenditionSpec], *, placeholder: bool = False
    ) -> Derivatives:
        """See the port. Raises `ImageTooLarge` or `UnreadableImage`."""
        picture = self._decode(data)
        rendered: list[RenderedImage] = []
        smallest = picture
        for spec in specs:
            resized = _resized(picture, spec.width)
            rendered.append(_encoded(resized, spec))
            if resized.width < smallest.width:
                smallest = resized
        # From the smallest picture at hand: shrinking a thumbnail costs next to nothing.
        hashed = _placeholder(smallest) if placeholder else None
        return Derivatives(renditions=tuple(rendered), placeholder=hashed)

    def _decode(self, data: bytes) -> Image.Image:
        try:
            with Image.open(io.BytesIO(data)) as opened:
                width, height = opened.size
                if width * height > self._max_pixels:
                    raise ImageTooLarge(
                        f"the image has {width}x{height} pixels; pixyproxy renders at most "
                        f"{self._max_pixels:,} (PIXYPROXY_RENDITION_MAX_PIXELS)"
                    )
                opened.load()
                # Turned only when the EXIF says so: exif_transpose copies the picture even
                # when there is nothing to turn.
                turned = opened.getexif().get(_ORIENTATION, 1) != 1
                picture = ImageOps.exif_transpose(opened) if turned else opened
        except Image.DecompressionBombError as e:
            raise ImageTooLarge(f"the image is a decompression bomb: {e}") from e
        except ImageTooLarge:
            raise
        # Pillow signals a broken file with many exception types; all mean "not an image".
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as e:
            raise UnreadableImage(f"the stored image does not decode: {e}") from e
        return _normalised(picture)


def _normalised(picture: Image.Image) -> Image.Image:
    """RGB, or RGBA when the picture has any transparency (palette ones included)."""
    if picture.mode in _OPAQUE_MODES or picture.mode in _ALPHA_MODES:
        return picture
    if picture.mode in ("LA", "PA") or "transparency" in picture.info:
        return picture.convert("RGBA")
    return picture.convert("RGB")


def _on_white(picture: Image.Image) -> Image.Image:
    background = Image.new("RGB", picture.size, (255, 255, 255))
    background.paste(picture, mask=picture.getchannel("A"))
    return background


def _resized(picture: Image.Image, width: int) -> Image.Image:
    size = fitted_size(picture.width, picture.height, width)
    if size == picture.size:
        return picture
    return picture.resize(size, Image.Resampling.LANCZOS, reducing_gap=_REDUCING_GAP)


def _encoded(picture: Image.Image, spec: RenditionSpec) -> RenderedImage:
    width, height = picture.size
    if spec.format == "jpeg" and picture.mode in _ALPHA_MODES:
        picture = _on_white(picture)
    pillow_format, options = _SAVE_OPTIONS[spec.format]
    out = io.BytesIO()
    picture.save(out, format=pillow_format, **options)
    return RenderedImage(spec=spec, data=out.getvalue(), width=width, height=height)


def _placeholder(picture: Image.Image) -> str:
    scale = min(1.0, PLACEHOLDER_SIDE / max(picture.width, picture.height))
    size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    small = picture.convert("RGBA").resize(size, Image.Resampling.BOX, reducing_gap=_REDUCING_GAP)
    return thumbhash_text(rgba_to_thumbhash(small.width, small.height, small.tobytes()))
