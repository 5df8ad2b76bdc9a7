"""`pixyproxy renditions backfill`: the default thumbnail and the placeholder for images made
before renditions existed (or whose eager render failed).

Resumable by construction: an image is done when it has a placeholder, which is written last,
after its thumbnail is stored and recorded; a run stopped anywhere leaves only images that
are either done or not started as far as the next run can tell, and the next run takes the
ones without a placeholder. Images are read by id, one page at a time, and rendered by a
bounded pool of threads (Pillow renders outside the GIL).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from pixyproxy.app.renditions import Renditions
from pixyproxy.domain.exceptions import (
    BlobNotFound,
    ImageNotFound,
    ImageTooLarge,
    UnreadableImage,
)
from pixyproxy.domain.models import Image
from pixyproxy.ports.blob_store import BlobStore
from pixyproxy.ports.image_repository import ImageRepository

log = logging.getLogger(__name__)


@dataclass
class BackfillProgress:
    total: int
    done: int = 0
    skipped: list[str] = field(default_factory=list)


class RenditionBackfill:
    def __init__(
        self,
        images: ImageRepository,
        blobs: BlobStore,
        renditions: Renditions,
        page_size: int = 100,
    ) -> None:
        self._images = images
        self._blobs = blobs
        self._renditions = renditions
        self._page_size = page_size

    def run(
        self, concurrency: int, report: Callable[[BackfillProgress], None] = lambda _: None
    ) -> BackfillProgress:
        """Backfill every image without a placeholder, `concurrency` at a time, calling
        `report` after each image. Images that cannot be rendered (missing bytes, beyond the
        pixel limit, not decodable) are skipped and named in the result. Raises
        `RepositoryUnavailable` or `BlobStoreUnavailable` when a store fails: run it again
        to resume."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        progress = BackfillProgress(total=self._images.count_without_placeholder())
        report(progress)
        after_id = 0
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            while page := self._images.without_placeholder(after_id, self._page_size):
                after_id = page[-1].id or after_id
                for skipped in pool.map(self._backfill, page):
                    progress.done += 1
                    if skipped is not None:
                        progress.skipped.append(skipped)
                    report(progress)
        return progress

    def _backfill(self, image: Image) -> str | None:
        """None when done, else why the image was skipped."""
        original = image.content
        try:
            data = self._blobs.get(original.blob_key)
            derived = self._renditions.derive_for_new_image(original, data)
            if derived.placeholder is None:
                return f"{image.guid}: cannot be rendered (see the log)"
            recorded = {r.spec for r in self._images.renditions_of(image.guid)}
            fresh = tuple(r for r in derived.renditions if r.rendition.spec not in recorded)
            for stored in self._renditions.put(fresh):
                self._images.add_rendition(image.guid, stored)
            self._images.set_placeholder(image.guid, derived.placeholder)
        except (BlobNotFound, ImageTooLarge, UnreadableImage) as e:
            return f"{image.guid}: {e.detail}"
        except ImageNotFound:
            return f"{image.guid}: deleted meanwhile"
        return None
