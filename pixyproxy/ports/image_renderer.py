from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from pixyproxy.domain.renditions import Derivatives, RenditionSpec


class ImageRenderer(ABC):
    """An imaging library: decodes an original and writes renditions of it. CPU-bound and
    blocking; callers run it in a worker thread."""

    @abstractmethod
    def formats(self) -> tuple[str, ...]:
        """The rendition formats it writes (`domain.renditions.CONTENT_TYPES` names), jpeg and
        png always among them."""

    @abstractmethod
    def derive(
        self, data: bytes, specs: Sequence[RenditionSpec], *, placeholder: bool = False
    ) -> Derivatives:
        """Decode `data` once and write each of `specs` from that one decode, each exactly
        `fitted_size` of the original (after its EXIF orientation); with `placeholder`, its
        ThumbHash too.

        Raises `ImageTooLarge` when the original has more pixels than the renderer's limit
        (known from its header, before anything is decoded), `UnreadableImage` when the bytes
        are no image it can decode.
        """
