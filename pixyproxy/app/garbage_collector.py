"""Finds what a crash or an outage left half-written between the blob store and the rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from itertools import islice

from pixyproxy.domain.renditions import rendition_owner
from pixyproxy.ports.blob_store import BlobStore
from pixyproxy.ports.clock import Clock
from pixyproxy.ports.idempotency_store import IdempotencyStore
from pixyproxy.ports.image_repository import ImageRepository
from pixyproxy.ports.unfinished_write_sweeper import UnfinishedWriteSweeper

_BATCH = 1000


@dataclass
class GcReport:
    orphan_blobs: list[str] = field(default_factory=list)
    rows_without_blob: list[str] = field(default_factory=list)
    deleted_blobs: int = 0
    unfinished_writes: list[str] = field(default_factory=list)
    expired_idempotency_keys: int = 0


class GarbageCollector:
    """Orphan blobs are bytes no row refers to, older than a grace period (younger ones may
    belong to a generation whose row is being written right now); a rendition's bytes belong
    to the image whose key they were derived from, and are orphans when it has no row. Rows
    without bytes cannot be repaired here; they are reported for an operator. Unfinished
    writes past the grace and expired idempotency records, which nothing else removes, are
    swept too."""

    def __init__(
        self,
        images: ImageRepository,
        blobs: BlobStore,
        idempotency: IdempotencyStore,
        clock: Clock,
        grace: timedelta,
    ) -> None:
        self._images = images
        self._blobs = blobs
        self._idempotency = idempotency
        self._clock = clock
        self._grace = grace

    def run(self, *, apply: bool) -> GcReport:
        report = GcReport()
        now = self._clock.now()
        cutoff = now - self._grace
        stored: set[str] = set()
        old_enough: list[str] = []
        for blob in self._blobs.iter_blobs():
            stored.add(blob.key)
            if blob.modified_at <= cutoff:
                old_enough.append(blob.key)
        candidates = iter(old_enough)
        while batch := list(islice(candidates, _BATCH)):
            owner_of = {key: rendition_owner(key) or key for key in batch}
            missing = self._images.missing_blob_keys(set(owner_of.values()))
            report.orphan_blobs.extend(
                sorted(k for k, owner in owner_of.items() if owner in missing)
            )
        report.rows_without_blob = sorted(
            key for key in self._images.iter_blob_keys() if key not in stored
        )
        if apply:
            for key in report.orphan_blobs:
                self._blobs.delete(key)
                report.deleted_blobs += 1
        if isinstance(self._blobs, UnfinishedWriteSweeper):
            report.unfinished_writes = self._blobs.sweep_unfinished_writes(cutoff, apply=apply)
        report.expired_idempotency_keys = self._idempotency.purge_expired(now, apply=apply)
        return report
