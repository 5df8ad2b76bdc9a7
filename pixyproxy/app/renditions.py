"""Renditions: made once, kept in the blob store under a key derived from the original's,
recorded with their image, and deleted with it.

The default thumbnail and the placeholder are made with the image, from the one decode of its
bytes (`derive_for_new_image`); any other rendition on its first request (`rendition`), by one
render however many requests ask at once: the first starts it, the others wait for it, in
this process. Another process (a worker, an instance) that finds no record looks in the blob
store before rendering, so it adopts what the first stored instead of rendering it again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass

from anyio import to_thread

from pixyproxy.app.generation_gate import GenerationGate
from pixyproxy.domain.exceptions import BlobNotFound, ImageNotFound, ImageTooLarge, UnreadableImage
from pixyproxy.domain.models import ImageContent
from pixyproxy.domain.renditions import (
    THUMBNAIL,
    RenderedImage,
    Rendition,
    RenditionChoice,
    RenditionContent,
    RenditionOffer,
    RenditionSpec,
    fitted_size,
    rendition_key,
)
from pixyproxy.ports.blob_store import BlobStore
from pixyproxy.ports.image_renderer import ImageRenderer
from pixyproxy.ports.image_repository import ImageRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredRendition:
    """A rendition's facts and, when at hand, its bytes."""

    rendition: Rendition
    data: bytes | None = None


@dataclass(frozen=True, slots=True)
class NewImageDerivatives:
    """What a new image gets from its one decode: renditions to store, and its placeholder
    (None when the picture could not be rendered)."""

    renditions: tuple[StoredRendition, ...] = ()
    placeholder: str | None = None


class Renditions:
    def __init__(
        self,
        images: ImageRepository,
        blobs: BlobStore,
        renderer: ImageRenderer,
        offer: RenditionOffer,
        gate: GenerationGate,
    ) -> None:
        self._images = images
        self._blobs = blobs
        self._renderer = renderer
        self._offer = offer
        self._gate = gate
        self._renders: dict[str, asyncio.Task[StoredRendition]] = {}

    @property
    def offer(self) -> RenditionOffer:
        return self._offer

    def choose(
        self, original: ImageContent, width: str | None, format: str | None, accept: str | None
    ) -> RenditionChoice:
        """What `?width=&format=` asks for. Raises `UnsupportedRendition`."""
        return self._offer.choose(original, width, format, accept)

    def thumbnail_of(self, original: ImageContent) -> RenditionSpec | None:
        """The default thumbnail's spec; None when the original itself is one (a WebP no
        wider than the thumbnail)."""
        return self._offer.resolve(original, THUMBNAIL.width, THUMBNAIL.format)

    # --- with the image ----------------------------------------------------------------------

    def derive_for_new_image(self, original: ImageContent, data: bytes) -> NewImageDerivatives:
        """The default thumbnail and the placeholder, from one decode of `data`; blocking.
        A picture that cannot be rendered gets neither (logged): its image is kept anyway."""
        thumbnail = self.thumbnail_of(original)
        specs = [thumbnail] if thumbnail is not None else []
        try:
            derived = self._renderer.derive(data, specs, placeholder=True)
        except (ImageTooLarge, UnreadableImage) as e:
            log.warning("no thumbnail or placeholder for image %s: %s", original.guid, e.detail)
            return NewImageDerivatives()
        stored = tuple(
            StoredRendition(self._facts(original, r.spec, r.data), r.data)
            for r in derived.renditions
        )
        return NewImageDerivatives(stored, derived.placeholder)

    def put(self, renditions: tuple[StoredRendition, ...]) -> list[Rendition]:
        """Store the bytes of new renditions; those whose write failed are left out (logged),
        to be rendered on their first request instead."""
        stored = []
        for each in renditions:
            assert each.data is not None
            try:
                self._blobs.put(each.rendition.blob_key, each.data, each.rendition.content_type)
            except Exception as e:
                log.warning("could not store rendition %s: %s", each.rendition.blob_key, e)
                continue
            stored.append(each.rendition)
        return stored

    def discard(self, keys: list[str]) -> None:
        """Delete rendition bytes, as far as the store lets us: what is left, the garbage
        collector finds (their original's row is gone)."""
        for key in keys:
            try:
                self._blobs.delete(key)
            except Exception:
                log.warning("could not delete rendition %s; gc will find it", key)

    # --- on request --------------------------------------------------------------------------

    async def rendition(self, original: ImageContent, spec: RenditionSpec) -> StoredRendition:
        """The rendition's facts, rendering it first when nothing is recorded (bytes then
        come along). Raises `ImageNotFound`, `BlobNotFound` (the original's bytes are
        missing), `ImageTooLarge`, `UnreadableImage`, `RenditionCapacityExhausted`,
        `BlobStoreUnavailable`, `RepositoryUnavailable`."""
        recorded = await to_thread.run_sync(self._images.rendition, original.guid, spec)
        if recorded is not None:
            return StoredRendition(recorded)
        key = rendition_key(original.blob_key, spec)
        render = self._renders.get(key)
        if render is None:
            render = asyncio.get_running_loop().create_task(self._render(original, spec))
            self._renders[key] = render
            render.add_done_callback(lambda done: self._finished(key, done))
        # Shielded: a client that goes away cancels its wait, not the render others await.
        return await asyncio.shield(render)

    def _finished(self, key: str, render: asyncio.Task[StoredRendition]) -> None:
        self._renders.pop(key, None)
        if not render.cancelled():
            render.exception()  # retrieved, so one nobody awaited any more is not logged

    async def _render(self, original: ImageContent, spec: RenditionSpec) -> StoredRendition:
        async with self._gate.slot():
            return await to_thread.run_sync(self.make, original, spec)

    def make(self, original: ImageContent, spec: RenditionSpec) -> StoredRendition:
        """Blocking: adopt the rendition another process stored, or render and store it;
        then record it (the first record wins)."""
        key = rendition_key(original.blob_key, spec)
        try:
            data = self._blobs.get(key)
        except BlobNotFound:
            data = self._rendered(original, spec).data
            self._blobs.put(key, data, spec.content_type)
        made = self._facts(original, spec, data)
        try:
            recorded = self._images.add_rendition(original.guid, made)
        except ImageNotFound:
            self.discard([key])
            raise
        if recorded.sha256 == made.sha256:
            return StoredRendition(recorded, data)
        # Another process recorded its own render first, and its bytes differ from ours (a
        # different library version): the store holds whichever was written last, so the
        # record follows the store.
        data = self._blobs.get(key)
        actual = self._facts(original, spec, data)
        if actual != recorded:
            self._images.replace_rendition(original.guid, actual)
        return StoredRendition(actual, data)

    def read_bytes(self, content: RenditionContent) -> bytes:
        """Blocking. The rendition's bytes; rendered again when the store lost them (they are
        derived, so nothing is lost). Raises `ImageNotFound` when the image was deleted since
        `content` was read, `BlobNotFound` when the original's bytes are missing too, or when
        the new render differs from what this request's headers promised (the record is
        corrected for the next one)."""
        try:
            return self._blobs.get(content.blob_key)
        except BlobNotFound:
            pass
        return self._render_lost(content)

    def check_bytes(self, content: RenditionContent) -> None:
        """Blocking. Return when the rendition's bytes are stored, rendering them again when
        the store lost them (what a HEAD needs to answer as a GET would). Raises as
        `read_bytes` does."""
        try:
            self._blobs.size(content.blob_key)
        except BlobNotFound:
            self._render_lost(content)

    def _render_lost(self, content: RenditionContent) -> bytes:
        original, rendition = content.original, content.rendition
        # Gone with its image (deleted elsewhere since it was read): nothing to render again.
        self._images.get(original.guid)
        log.warning("rendition %s was missing from the store; rendering it again", rendition)
        data = self._rendered(original, rendition.spec).data
        self._blobs.put(rendition.blob_key, data, rendition.content_type)
        made = self._facts(original, rendition.spec, data)
        if made != rendition:
            self._images.replace_rendition(original.guid, made)
            raise BlobNotFound(f"rendition {rendition.blob_key} was missing and changed")
        return data

    def _rendered(self, original: ImageContent, spec: RenditionSpec) -> RenderedImage:
        try:
            source = self._blobs.get(original.blob_key)
        except BlobNotFound:
            self._images.get(original.guid)  # ImageNotFound when it was deleted meanwhile
            raise
        (rendered,) = self._renderer.derive(source, [spec]).renditions
        return rendered

    @staticmethod
    def _facts(original: ImageContent, spec: RenditionSpec, data: bytes) -> Rendition:
        width, height = fitted_size(original.width, original.height, spec.width)
        return Rendition(
            spec=spec,
            blob_key=rendition_key(original.blob_key, spec),
            width=width,
            height=height,
            byte_size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
        )
