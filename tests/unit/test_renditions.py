"""Renditions over in-memory stores and the real Pillow renderer: made once, adopted across
processes, made with the image, deleted with it, collected when orphaned, backfilled."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image as PILImage

from pixyproxy.adapters.driven.image_renderer_pillow import PillowImageRenderer
from pixyproxy.adapters.driven.memory import (
    ManualClock,
    MemoryBlobStore,
    MemoryIdempotencyStore,
    MemoryImageRepository,
)
from pixyproxy.app.garbage_collector import GarbageCollector
from pixyproxy.app.generation_gate import GenerationGate
from pixyproxy.app.rendition_backfill import RenditionBackfill
from pixyproxy.app.renditions import Renditions
from pixyproxy.domain.exceptions import ImageNotFound, ImageTooLarge, RenditionCapacityExhausted
from pixyproxy.domain.models import GeneratedImage, Image
from pixyproxy.domain.renditions import (
    THUMBNAIL,
    Derivatives,
    RenditionContent,
    RenditionOffer,
    RenditionSpec,
    rendition_key,
)
from pixyproxy.ports.image_renderer import ImageRenderer
from tests.support.builders import make_image, make_private_images
from tests.support.fakes import ScriptedImageGenerator


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    PILImage.linear_gradient("L").resize((width, height)).convert("RGB").save(out, format="PNG")
    return out.getvalue()


class CountingRenderer(ImageRenderer):
    """The Pillow renderer, counting decodes, optionally slow (to let requests pile up)."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.inner = PillowImageRenderer()
        self.decodes = 0
        self.delay_s = delay_s
        self._lock = threading.Lock()

    def formats(self) -> tuple[str, ...]:
        return self.inner.formats()

    def derive(
        self, data: bytes, specs: Sequence[RenditionSpec], *, placeholder: bool = False
    ) -> Derivatives:
        with self._lock:
            self.decodes += 1
        if self.delay_s:
            threading.Event().wait(self.delay_s)
        return self.inner.derive(data, specs, placeholder=placeholder)


class Stack:
    def __init__(self, renderer: CountingRenderer | None = None, gate_limit: int = 2) -> None:
        self.images = MemoryImageRepository()
        self.blobs = MemoryBlobStore()
        self.renderer = renderer or CountingRenderer()
        self.renditions = self.process()
        self.gate_limit = gate_limit

    def process(self, gate: GenerationGate | None = None) -> Renditions:
        """Another process's Renditions over the same stores."""
        return Renditions(
            self.images,
            self.blobs,
            self.renderer,
            RenditionOffer(formats=self.renderer.formats()),
            gate or GenerationGate(2, 5.0, work="render", exhausted=RenditionCapacityExhausted),
        )

    def stored(self, width: int = 1536, height: int = 1024) -> Image:
        image = replace(make_image(1), width=width, height=height)
        self.blobs.put(image.blob_key, png(width, height), "image/png")
        return self.images.add(image)


def decoded(data: bytes) -> PILImage.Image:
    return PILImage.open(io.BytesIO(data))


async def test_thirty_two_concurrent_first_requests_share_one_render() -> None:
    stack = Stack(CountingRenderer(delay_s=0.2))
    image = stack.stored()
    spec = RenditionSpec(512, "webp")

    results = await asyncio.gather(
        *(stack.renditions.rendition(image.content, spec) for _ in range(32))
    )

    assert stack.renderer.decodes == 1
    assert {r.rendition for r in results} == {results[0].rendition}
    stored = stack.blobs.get(rendition_key(image.blob_key, spec))
    assert decoded(stored).size == (512, 341)
    assert stack.images.rendition(image.guid, spec) == results[0].rendition


async def test_a_recorded_rendition_is_not_rendered_again() -> None:
    stack = Stack()
    image = stack.stored()
    spec = RenditionSpec(128, "jpeg")
    first = await stack.renditions.rendition(image.content, spec)

    again = await stack.process().rendition(image.content, spec)

    assert stack.renderer.decodes == 1
    assert again.rendition == first.rendition and again.data is None


async def test_another_process_adopts_a_stored_rendition_instead_of_rendering() -> None:
    stack = Stack()
    image = stack.stored()
    spec = RenditionSpec(256, "png")
    made = stack.renditions.make(image.content, spec)
    # The first process crashed after storing the bytes, before recording them.
    stack.images.delete(image.guid)
    image = stack.images.add(image)
    assert stack.images.rendition(image.guid, spec) is None

    adopted = await stack.process().rendition(image.content, spec)

    assert stack.renderer.decodes == 1
    assert adopted.rendition == made.rendition


async def test_a_render_for_an_image_deleted_meanwhile_leaves_no_bytes() -> None:
    stack = Stack()
    image = stack.stored()
    stack.images.delete(image.guid)

    with pytest.raises(ImageNotFound):
        await stack.renditions.rendition(image.content, THUMBNAIL)
    assert [b.key for b in stack.blobs.iter_blobs()] == [image.blob_key]


async def test_renders_beyond_the_gate_wait_then_get_a_503() -> None:
    stack = Stack(CountingRenderer(delay_s=0.5))
    image = stack.stored()
    gate = GenerationGate(1, 0.1, work="render", exhausted=RenditionCapacityExhausted)
    renditions = stack.process(gate)

    outcomes = await asyncio.gather(
        renditions.rendition(image.content, RenditionSpec(64, "webp")),
        renditions.rendition(image.content, RenditionSpec(128, "webp")),
        return_exceptions=True,
    )

    assert sum(isinstance(o, RenditionCapacityExhausted) for o in outcomes) == 1


async def test_a_lost_rendition_is_rendered_again_from_the_original() -> None:
    stack = Stack()
    image = stack.stored()
    made = (await stack.renditions.rendition(image.content, THUMBNAIL)).rendition
    stack.blobs.delete(made.blob_key)

    data = stack.renditions.read_bytes(RenditionContent.of(image.content, made))

    assert decoded(data).size == (256, 171)
    assert stack.blobs.get(made.blob_key) == data


async def test_a_generation_stores_its_thumbnail_and_placeholder_from_one_decode() -> None:
    renderer = CountingRenderer()
    stack = Stack(renderer)
    picture = GeneratedImage(png(1536, 1024), "image/png", 1536, 1024, "fake-model")
    use_case, images, blobs, _ = make_private_images(
        images=stack.images,
        generator=ScriptedImageGenerator(picture=picture),
        blobs=stack.blobs,
        renditions=stack.renditions,
    )
    image = await use_case.generate("alice", {"prompt": "a pier"})

    assert renderer.decodes == 1
    assert image.placeholder is not None and len(image.placeholder) <= 40
    assert images.get(image.guid).placeholder == image.placeholder
    (thumbnail,) = images.renditions_of(image.guid)
    assert thumbnail.spec == THUMBNAIL
    assert decoded(blobs.get(thumbnail.blob_key)).size == (256, 171)

    use_case.delete("alice", image.guid)

    assert blobs.stored_keys() == set()


async def test_an_image_too_large_to_render_is_kept_without_thumbnail_or_placeholder() -> None:
    stack = Stack()
    renditions = Renditions(
        stack.images,
        stack.blobs,
        PillowImageRenderer(max_pixels=100),
        RenditionOffer(),
        GenerationGate(2, 1.0),
    )
    use_case, _, _, _ = make_private_images(
        images=stack.images, blobs=stack.blobs, renditions=renditions
    )

    image = await use_case.generate("alice", {"prompt": "p"})  # a 1x1 PNG: renders

    assert image.placeholder is not None
    big = stack.stored()
    with pytest.raises(ImageTooLarge):
        await renditions.rendition(big.content, THUMBNAIL)


def test_gc_collects_renditions_whose_image_is_gone_and_keeps_the_others() -> None:
    stack = Stack()
    kept, gone = stack.stored(), stack.stored()
    for image in (kept, gone):
        stack.renditions.make(image.content, THUMBNAIL)
    # An unrecorded rendition of a live image (a crash before its record) is its image's.
    stack.blobs.put(rendition_key(kept.blob_key, RenditionSpec(64, "png")), b"png", "image/png")
    stack.images.delete(gone.guid)
    clock = ManualClock(datetime.now(UTC) + timedelta(days=1))
    gc = GarbageCollector(
        stack.images, stack.blobs, MemoryIdempotencyStore(), clock, timedelta(hours=1)
    )

    report = gc.run(apply=True)

    gone_keys = {gone.blob_key, rendition_key(gone.blob_key, THUMBNAIL)}
    assert set(report.orphan_blobs) == gone_keys
    assert {b.key for b in stack.blobs.iter_blobs()} == {
        kept.blob_key,
        rendition_key(kept.blob_key, THUMBNAIL),
        rendition_key(kept.blob_key, RenditionSpec(64, "png")),
    }


def test_backfill_gives_older_images_a_thumbnail_and_placeholder_and_resumes() -> None:
    stack = Stack()
    old = [stack.stored(640, 480) for _ in range(7)]
    missing_bytes = stack.images.add(make_image(99))
    backfill = RenditionBackfill(stack.images, stack.blobs, stack.renditions, page_size=3)
    seen: list[int] = []

    progress = backfill.run(concurrency=3, report=lambda p: seen.append(p.done))

    assert progress.total == 8 and progress.done == 8
    assert progress.skipped == [f"{missing_bytes.guid}: no blob {missing_bytes.blob_key!r}"]
    assert seen == list(range(9))
    for image in old:
        assert stack.images.get(image.guid).placeholder is not None
        (thumbnail,) = stack.images.renditions_of(image.guid)
        assert decoded(stack.blobs.get(thumbnail.blob_key)).size == (256, 192)
    decodes = stack.renderer.decodes

    again = backfill.run(concurrency=2)

    assert again.total == 1 and again.skipped and stack.renderer.decodes == decodes
