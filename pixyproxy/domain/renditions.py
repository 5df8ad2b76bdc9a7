"""Renditions: an image at one of a few bounded widths, in one of a few formats.

The set is bounded on purpose: every rendition costs a render and a stored blob, so a client
that could ask for any width would have us fill the disk and burn the CPU. A width above the
original's serves the original's size (never an upscale), so every such width of one image is
one rendition, stored under one key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from uuid import UUID

from pixyproxy.domain.exceptions import FieldError, UnsupportedRendition
from pixyproxy.domain.models import ImageContent

AUTO = "auto"
CONTENT_TYPES = {
    "webp": "image/webp",
    "avif": "image/avif",
    "jpeg": "image/jpeg",
    "png": "image/png",
}
_EXTENSIONS = {"webp": "webp", "avif": "avif", "jpeg": "jpg", "png": "png"}
_FORMAT_OF_CONTENT_TYPE = {content_type: name for name, content_type in CONTENT_TYPES.items()}
# What `format=auto` prefers, best first, among what a client names in `Accept`. WebP before
# AVIF: every browser that takes AVIF takes WebP, WebP renders several times faster, and the
# default thumbnail, made with every image, is WebP.
MODERN_FORMATS = ("webp", "avif")
DEFAULT_WIDTHS = (64, 128, 256, 512, 1024)
MAX_WIDTH = 16384


@dataclass(frozen=True, slots=True)
class RenditionSpec:
    """A rendition as stored: its real width (at most the original's) and its format."""

    width: int
    format: str

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]

    @property
    def extension(self) -> str:
        return _EXTENSIONS[self.format]


THUMBNAIL = RenditionSpec(256, "webp")


@dataclass(frozen=True, slots=True)
class Rendition:
    """A stored rendition: what serving it needs, as for an original (`ImageContent`)."""

    spec: RenditionSpec
    blob_key: str
    width: int
    height: int
    byte_size: int
    sha256: str

    @property
    def content_type(self) -> str:
        return self.spec.content_type


@dataclass(frozen=True, slots=True)
class RenderedImage:
    """Bytes an imaging library wrote for one spec."""

    spec: RenditionSpec
    data: bytes
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Derivatives:
    """What one decode of an original gave: renditions, and the placeholder when asked."""

    renditions: tuple[RenderedImage, ...]
    placeholder: str | None = None


def fitted_size(width: int, height: int, asked_width: int) -> tuple[int, int]:
    """The size of a rendition `asked_width` wide of a `width` x `height` picture: the
    original's own when it is not wider, the height scaled in proportion (at least 1)."""
    if asked_width >= width:
        return width, height
    return asked_width, max(1, round(height * asked_width / width))


def rendition_key(original_key: str, spec: RenditionSpec) -> str:
    """Where a rendition lives in the blob store: derived from its original's key, so the
    garbage collector knows whose it is (`rendition_owner`)."""
    return f"{original_key}.w{spec.width}.{spec.extension}"


_RENDITION_KEY = re.compile(
    r"(?P<owner>.+)\.w(?P<width>[1-9][0-9]{0,4})\.(?P<ext>" + "|".join(_EXTENSIONS.values()) + ")"
)


def rendition_owner(key: str) -> str | None:
    """The key of the original a rendition key was derived from, or None for a key that is
    no rendition's (an original's own: `<guid>.<ext>` has no `.w<width>.` part)."""
    match = _RENDITION_KEY.fullmatch(key)
    return None if match is None else match["owner"]


def rendition_filename(original_filename: str, spec: RenditionSpec) -> str:
    """The file name a download of the rendition suggests: `<guid>-256.webp`."""
    stem = original_filename.rsplit(".", 1)[0]
    return f"{stem}-{spec.width}.{spec.extension}"


@dataclass(frozen=True, slots=True)
class RenditionContent:
    """A stored rendition as served: what `ImageContent` tells of an original, under the same
    names, and the original it is made from."""

    original: ImageContent
    rendition: Rendition
    # What a download suggests (`<guid>-256.webp`), not the blob key (`<guid>.png.w256.webp`).
    filename: str

    @classmethod
    def of(cls, original: ImageContent, rendition: Rendition) -> RenditionContent:
        return cls(original, rendition, rendition_filename(original.filename, rendition.spec))

    @property
    def guid(self) -> UUID:
        return self.original.guid

    @property
    def spec(self) -> RenditionSpec:
        return self.rendition.spec

    @property
    def blob_key(self) -> str:
        return self.rendition.blob_key

    @property
    def content_type(self) -> str:
        return self.rendition.content_type

    @property
    def byte_size(self) -> int:
        return self.rendition.byte_size

    @property
    def sha256(self) -> str:
        return self.rendition.sha256


# One representation of an image's content: the original, or one of its renditions.
Representation = ImageContent | RenditionContent


def format_of(content_type: str) -> str | None:
    return _FORMAT_OF_CONTENT_TYPE.get(content_type)


@dataclass(frozen=True, slots=True)
class RenditionChoice:
    """What a request asked for: `spec` None means the original itself; `varies_by_accept`
    that the answer depends on the `Accept` header (`format=auto`)."""

    spec: RenditionSpec | None
    varies_by_accept: bool = False


ORIGINAL = RenditionChoice(None)


@dataclass(frozen=True, slots=True)
class RenditionOffer:
    """The widths an operator allows and the formats the imaging library writes."""

    widths: tuple[int, ...] = DEFAULT_WIDTHS
    formats: tuple[str, ...] = tuple(CONTENT_TYPES)

    def __post_init__(self) -> None:
        if not self.widths or any(not 1 <= w <= MAX_WIDTH for w in self.widths):
            raise ValueError(f"rendition widths must be 1..{MAX_WIDTH}, at least one")
        unknown = set(self.formats) - set(CONTENT_TYPES)
        if unknown or "png" not in self.formats or "jpeg" not in self.formats:
            raise ValueError("rendition formats are among webp, avif, jpeg, png; with jpeg, png")

    def choose(
        self, original: ImageContent, width: str | None, format: str | None, accept: str | None
    ) -> RenditionChoice:
        """The rendition `?width=&format=` asks for, given the request's `Accept`. Raises
        `UnsupportedRendition` naming the allowed values."""
        if width is None and format is None:
            return ORIGINAL
        asked_width = self._width(width)
        own_format = format_of(original.content_type)
        varies = format == AUTO
        if format is None:
            chosen = own_format if own_format in self.formats else "png"
        elif varies:
            chosen = negotiate(accept, self._modern(), self.fallback_for(original))
        elif format in self.formats:
            chosen = format
        else:
            raise _not_offered("format", format, (*self.formats, AUTO))
        return RenditionChoice(self.resolve(original, asked_width, chosen), varies)

    def resolve(
        self, original: ImageContent, width: int | None, format: str
    ) -> RenditionSpec | None:
        """The rendition of `original` at `width` (None: its own) in `format`, as stored; None
        when that is the original itself."""
        real_width = original.width if width is None else min(width, original.width)
        if real_width == original.width and format == format_of(original.content_type):
            return None
        return RenditionSpec(real_width, format)

    def _width(self, width: str | None) -> int | None:
        if width is None:
            return None
        if width.isascii() and width.isdigit() and int(width) in self.widths:
            return int(width)
        raise _not_offered("width", width, self.widths)

    def _modern(self) -> tuple[str, ...]:
        return tuple(f for f in MODERN_FORMATS if f in self.formats)

    @staticmethod
    def fallback_for(original: ImageContent) -> str:
        """What `format=auto` serves a client that names no modern format: JPEG for a JPEG
        original, PNG for anything else (it may have transparency, which JPEG drops)."""
        return "jpeg" if original.content_type == "image/jpeg" else "png"


def _not_offered(name: str, value: str, allowed: tuple[object, ...]) -> UnsupportedRendition:
    shown = value if len(value) <= 16 else value[:16] + "..."
    listed = ", ".join(map(str, allowed))
    return UnsupportedRendition(
        errors=[
            FieldError((name,), f"{shown!r} is not offered; ask for one of {listed}", "not_offered")
        ]
    )


@lru_cache(maxsize=512)
def negotiate(accept: str | None, modern: tuple[str, ...], fallback: str) -> str:
    """The best of `modern` that `accept` names with a q above zero (the highest q, ties in
    `modern`'s order), else `fallback`. Wildcards (`image/*`, `*/*`) do not count for modern
    formats: old clients send them without decoding WebP or AVIF."""
    if not accept:
        return fallback
    best, best_q = fallback, 0.0
    for media_range in accept.split(","):
        kind, _, params = media_range.strip().partition(";")
        name = kind.strip().lower()
        if not name.startswith("image/"):
            continue
        format = name.removeprefix("image/")
        if format not in modern:
            continue
        q = _quality(params)
        if q > best_q or (q == best_q > 0 and modern.index(format) < modern.index(best)):
            best, best_q = format, q
    return best


def _quality(params: str) -> float:
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "q":
            try:
                return min(1.0, max(0.0, float(value)))
            except ValueError:
                return 0.0
    return 1.0
