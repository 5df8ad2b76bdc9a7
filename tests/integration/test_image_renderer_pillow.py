"""The imaging adapter: renditions decode, with Pillow, to the size and format asked for; the
pixel limit and broken bytes give domain errors, never a crash or an out-of-memory kill."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import pytest
from PIL import Image

from pixyproxy.adapters.driven.image_renderer_pillow import PillowImageRenderer
from pixyproxy.domain.exceptions import ImageTooLarge, UnreadableImage
from pixyproxy.domain.renditions import THUMBNAIL, RenditionSpec

PILLOW_FORMATS = {"webp": "WEBP", "avif": "AVIF", "jpeg": "JPEG", "png": "PNG"}


def picture(width: int, height: int, mode: str = "RGB", fmt: str = "PNG", **save: object) -> bytes:
    image = Image.linear_gradient("L").resize((width, height)).convert(mode)
    out = io.BytesIO()
    image.save(out, format=fmt, **save)
    return out.getvalue()


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.fixture(scope="module")
def renderer() -> PillowImageRenderer:
    return PillowImageRenderer()


@pytest.mark.parametrize("width", [64, 256, 1024])
def test_each_format_decodes_to_the_asked_width_and_format(
    renderer: PillowImageRenderer, width: int
) -> None:
    original = picture(1536, 1024)
    specs = [RenditionSpec(width, f) for f in renderer.formats()]

    derived = renderer.derive(original, specs)

    assert [r.spec for r in derived.renditions] == specs
    for rendered in derived.renditions:
        image = decoded(rendered.data)
        assert image.format == PILLOW_FORMATS[rendered.spec.format]
        assert (
            image.size == (width, round(1024 * width / 1536)) == (rendered.width, rendered.height)
        )


def test_webp_jpeg_and_png_are_always_offered(renderer: PillowImageRenderer) -> None:
    assert {"webp", "jpeg", "png"} <= set(renderer.formats())


def test_a_width_above_the_original_keeps_the_original_size(
    renderer: PillowImageRenderer,
) -> None:
    (rendered,) = renderer.derive(picture(300, 200), [RenditionSpec(512, "webp")]).renditions
    assert decoded(rendered.data).size == (300, 200)


def test_transparency_survives_where_the_format_has_it(renderer: PillowImageRenderer) -> None:
    image = Image.new("RGBA", (64, 64), (200, 30, 30, 255))
    image.putalpha(Image.linear_gradient("L").resize((64, 64)))
    out = io.BytesIO()
    image.save(out, format="PNG")
    original = out.getvalue()
    webp, jpeg = renderer.derive(
        original, [RenditionSpec(32, "webp"), RenditionSpec(32, "jpeg")]
    ).renditions
    assert decoded(webp.data).mode == "RGBA"
    assert decoded(jpeg.data).mode == "RGB"


def test_exif_orientation_is_applied(renderer: PillowImageRenderer) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    original = picture(80, 40, fmt="JPEG", exif=exif)
    (rendered,) = renderer.derive(original, [RenditionSpec(1024, "png")]).renditions
    assert decoded(rendered.data).size == (40, 80)


def test_a_placeholder_is_a_short_thumbhash(renderer: PillowImageRenderer) -> None:
    derived = renderer.derive(picture(1536, 1024), [THUMBNAIL], placeholder=True)

    assert derived.placeholder is not None
    assert len(derived.placeholder) <= 40
    header = base64.b64decode(derived.placeholder)
    assert header[4] >> 7 == 1  # the landscape bit
    alone = renderer.derive(picture(1536, 1024), [], placeholder=True)
    assert alone.renditions == () and alone.placeholder is not None


def _png_header_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 4096)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize(("width", "height"), [(20_000, 20_000), (100_000, 100_000)])
def test_a_decompression_bomb_is_refused_from_its_header(
    renderer: PillowImageRenderer, width: int, height: int
) -> None:
    with pytest.raises(ImageTooLarge, match=r"pixels|bomb"):
        renderer.derive(_png_header_claiming(width, height), [THUMBNAIL], placeholder=True)


def test_the_pixel_limit_is_the_configured_one() -> None:
    small_limit = PillowImageRenderer(max_pixels=64 * 64)
    assert small_limit.derive(picture(64, 64), [THUMBNAIL]).renditions
    with pytest.raises(ImageTooLarge, match="4,096"):
        small_limit.derive(picture(65, 64), [THUMBNAIL])


@pytest.mark.parametrize(
    "data", [b"", b"not an image at all", picture(64, 64)[:60], b"\x89PNG\r\n\x1a\n" + b"\0" * 50]
)
def test_bytes_that_do_not_decode_are_an_unreadable_image(
    renderer: PillowImageRenderer, data: bytes
) -> None:
    with pytest.raises(UnreadableImage):
        renderer.derive(data, [THUMBNAIL], placeholder=True)
