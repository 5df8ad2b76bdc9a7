"""`ImageRepository` over SQLAlchemy Core, for SQLite and MySQL/MariaDB alike."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from itertools import islice
from uuid import UUID

import sqlalchemy as sa

from pixyproxy.adapters.driven.sql import statements as q
from pixyproxy.adapters.driven.sql.engine import transaction
from pixyproxy.adapters.driven.sql.errors import ping, translated_errors
from pixyproxy.adapters.driven.sql.rows import (
    image_to_row,
    rendition_to_row,
    row_to_content,
    row_to_image,
    row_to_rendition,
    tag_rows,
    tags_column,
)
from pixyproxy.domain.exceptions import DuplicateImage, ImageNotFound
from pixyproxy.domain.models import Image, ImageContent, ImageQuery
from pixyproxy.domain.renditions import Rendition, RenditionSpec
from pixyproxy.ports.image_repository import ImageRepository


class SqlImageRepository(ImageRepository):
    """Image details in SQLite or MySQL/MariaDB. Tags are kept twice, in one transaction:
    in the image's row, for reads, and in `image_tags`, the index of tag filters."""

    def __init__(self, engine: sa.Engine, *, batch_size: int = 500) -> None:
        self._engine = engine
        # Bounds the IN lists of `contents` and `missing_blob_keys`, and the pages of
        # `iter_blob_keys`.
        self._batch_size = batch_size

    def add(self, image: Image, renditions: Sequence[Rendition] = ()) -> Image:
        """Insert the image, its tags and renditions in one transaction. Raises
        `DuplicateImage`."""
        # Tags are a set with a display order; a repeat would only trip the primary key.
        tags = tuple(dict.fromkeys(image.tags))

        def duplicate() -> DuplicateImage:
            # After de-duplicating tags, the guid is the only unique key an insert can hit.
            return DuplicateImage(f"image {image.guid} already exists")

        image = replace(image, tags=tags)
        with (
            translated_errors("store the image", on_integrity=duplicate),
            transaction(self._engine) as connection,
        ):
            result = connection.execute(q.INSERT_IMAGE, image_to_row(image))
            image_id = result.lastrowid
            rows = tag_rows(image_id, image.guid, image.created_at, tags)
            if rows:
                connection.execute(q.INSERT_TAG, rows)
            if renditions:
                connection.execute(
                    q.INSERT_RENDITION, [rendition_to_row(image_id, r) for r in renditions]
                )
        return replace(image, id=image_id)

    def get(self, guid: UUID) -> Image:
        """The image with this guid. Raises `ImageNotFound`."""
        with translated_errors("read the image"), self._engine.connect() as connection:
            return _get(connection, guid)

    def list(self, query: ImageQuery) -> list[Image]:
        """One page, newest first, strictly after `query.after`; see `statements.list_images`."""
        statement, params = q.list_images(query)
        with translated_errors("list images"), self._engine.connect() as connection:
            rows = connection.execute(statement, params).mappings().all()
        return [row_to_image(row) for row in rows]

    def set_tags(self, guid: UUID, tags: tuple[str, ...], updated_at: datetime) -> Image:
        """Replace the tags and move `updated_at` in one transaction. Raises `ImageNotFound`."""
        tags = tuple(dict.fromkeys(tags))
        with translated_errors("change the image's tags"), transaction(self._engine) as connection:
            # Writing first takes the row lock (MySQL) or the write lock (SQLite) before reading.
            connection.execute(
                q.SET_IMAGE_TAGS,
                {"guid": str(guid), "tags": tags_column(tags), "updated_at": updated_at},
            )
            key = connection.execute(q.SELECT_IMAGE_KEY, {"guid": str(guid)}).mappings().first()
            if key is None:
                raise ImageNotFound(f"no image with guid {guid}")
            connection.execute(q.DELETE_TAGS_OF_IMAGE, {"image_id": key["id"]})
            rows = tag_rows(key["id"], guid, key["created_at"], tags)
            if rows:
                connection.execute(q.INSERT_TAG, rows)
            return _get(connection, guid)

    def delete(self, guid: UUID) -> None:
        """Delete the image and its tags in one transaction. Raises `ImageNotFound`."""
        with translated_errors("delete the image"), transaction(self._engine) as connection:
            key = connection.execute(q.SELECT_IMAGE_KEY, {"guid": str(guid)}).mappings().first()
            if key is None:
                raise ImageNotFound(f"no image with guid {guid}")
            # Explicit, not left to ON DELETE CASCADE: SQLite only cascades when the
            # connection enabled foreign keys, and it may reuse a deleted row's id.
            connection.execute(q.DELETE_TAGS_OF_IMAGE, {"image_id": key["id"]})
            connection.execute(q.DELETE_RENDITIONS_OF_IMAGE, {"image_id": key["id"]})
            if connection.execute(q.DELETE_IMAGE, {"image_id": key["id"]}).rowcount == 0:
                # Someone else deleted it between our read and our write.
                raise ImageNotFound(f"no image with guid {guid}")

    def contents(self, guids: Iterable[UUID]) -> dict[UUID, ImageContent]:
        """One query per `batch_size` guids, on one connection."""
        found: dict[UUID, ImageContent] = {}
        pending = iter(dict.fromkeys(str(guid) for guid in guids))
        with translated_errors("read image contents"), self._engine.connect() as connection:
            while batch := list(islice(pending, self._batch_size)):
                rows = connection.execute(q.SELECT_CONTENTS_AMONG, {"guids": batch}).mappings()
                found.update((content.guid, content) for content in map(row_to_content, rows))
        return found

    def rendition(self, guid: UUID, spec: RenditionSpec) -> Rendition | None:
        """The recorded rendition, or None."""
        params = {"guid": str(guid), "width": spec.width, "format": spec.format}
        with translated_errors("read a rendition"), self._engine.connect() as connection:
            row = connection.execute(q.SELECT_RENDITION, params).mappings().first()
        return None if row is None else row_to_rendition(row)

    def add_rendition(self, guid: UUID, rendition: Rendition) -> Rendition:
        """Insert unless one is recorded for the spec; return the one recorded. Raises
        `ImageNotFound`."""
        with translated_errors("record a rendition"), transaction(self._engine) as connection:
            image_id = _image_id(connection, guid)
            existing = _rendition_of_id(connection, image_id, rendition.spec)
            if existing is not None:
                return existing
        try:
            with transaction(self._engine) as connection:
                connection.execute(q.INSERT_RENDITION, rendition_to_row(image_id, rendition))
            return rendition
        except sa.exc.IntegrityError:
            # Recorded by another process since we looked, or the image was deleted.
            pass
        with translated_errors("record a rendition"), self._engine.connect() as connection:
            image_id = _image_id(connection, guid)
            existing = _rendition_of_id(connection, image_id, rendition.spec)
        if existing is None:
            raise ImageNotFound(f"no image with guid {guid}")
        return existing

    def replace_rendition(self, guid: UUID, rendition: Rendition) -> None:
        """Raises `ImageNotFound`."""
        with translated_errors("correct a rendition"), transaction(self._engine) as connection:
            image_id = _image_id(connection, guid)
            connection.execute(q.UPDATE_RENDITION, rendition_to_row(image_id, rendition))

    def renditions_of(self, guid: UUID) -> builtins.list[Rendition]:
        with translated_errors("read renditions"), self._engine.connect() as connection:
            rows = connection.execute(q.SELECT_RENDITIONS_OF_IMAGE, {"guid": str(guid)})
            return [row_to_rendition(row) for row in rows.mappings()]

    def set_placeholder(self, guid: UUID, placeholder: str) -> None:
        """Raises `ImageNotFound`."""
        params = {"guid": str(guid), "placeholder": placeholder}
        with translated_errors("store a placeholder"), transaction(self._engine) as connection:
            if connection.execute(q.SET_PLACEHOLDER, params).rowcount == 0:
                raise ImageNotFound(f"no image with guid {guid}")

    def without_placeholder(self, after_id: int, limit: int) -> builtins.list[Image]:
        params = {"after_id": after_id, "limit": limit}
        with translated_errors("list images to backfill"), self._engine.connect() as c:
            rows = c.execute(q.SELECT_WITHOUT_PLACEHOLDER, params).mappings().all()
        return [row_to_image(row) for row in rows]

    def count_without_placeholder(self) -> int:
        with translated_errors("count images to backfill"), self._engine.connect() as c:
            return int(c.execute(q.COUNT_WITHOUT_PLACEHOLDER).scalar_one())

    def missing_blob_keys(self, keys: Iterable[str]) -> set[str]:
        """Of `keys`, those no image's filename refers to."""
        missing: set[str] = set()
        pending = iter(dict.fromkeys(keys))
        with translated_errors("look up blob keys"), self._engine.connect() as connection:
            while batch := list(islice(pending, self._batch_size)):
                found = connection.execute(q.SELECT_FILENAMES_AMONG, {"filenames": batch})
                missing.update(set(batch).difference(found.scalars()))
        return missing

    def iter_blob_keys(self) -> Iterator[str]:
        """Every referenced blob key, fetched page by page so no connection stays checked out
        while the caller works through them."""
        after_id = 0
        while True:
            with translated_errors("list blob keys"), self._engine.connect() as connection:
                params = {"after_id": after_id, "limit": self._batch_size}
                page = connection.execute(q.SELECT_FILENAMES_PAGE, params).all()
            for _, filename in page:
                yield filename
            if len(page) < self._batch_size:
                return
            after_id = page[-1][0]

    def ping(self) -> None:
        """Raises `RepositoryUnavailable` unless the database answers."""
        ping(self._engine)


def _image_id(connection: sa.Connection, guid: UUID) -> int:
    key = connection.execute(q.SELECT_IMAGE_KEY, {"guid": str(guid)}).mappings().first()
    if key is None:
        raise ImageNotFound(f"no image with guid {guid}")
    return int(key["id"])


def _rendition_of_id(
    connection: sa.Connection, image_id: int, spec: RenditionSpec
) -> Rendition | None:
    params = {"image_id": image_id, "width": spec.width, "format": spec.format}
    row = connection.execute(q.SELECT_RENDITION_OF_ID, params).mappings().first()
    return None if row is None else row_to_rendition(row)


def _get(connection: sa.Connection, guid: UUID) -> Image:
    row = connection.execute(q.SELECT_IMAGE_BY_GUID, {"guid": str(guid)}).mappings().first()
    if row is None:
        raise ImageNotFound(f"no image with guid {guid}")
    return row_to_image(row)
