"""Seed data: many image rows, spread over authors and tags, inserted in bulk.

Rows go straight into the schema the migrations create, in multi-row INSERTs of `batch` rows
(pymysql's `executemany` folds a batch into one statement; sqlite3 runs it in one
transaction), ids assigned here so tag rows need no read-back. Every row describes the same
200 KB PNG (same size and SHA-256), each under its own key `<guid>.png`; `link_content` gives
a sample of those keys a file on disk, as hard links to one copy.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from PIL import Image as PILImage

from pixyproxy.adapters.driven.sql import SqlSchemaMigrator, create_engine_from_url
from pixyproxy.adapters.driven.sql.rows import tags_column
from pixyproxy.adapters.driven.sql.schema_migrator import VERSION_TABLE
from pixyproxy.adapters.driven.sql.tables import metadata

SEED_AUTHOR_PREFIX = "author-"
AUTHORS = 100
TOPICS = 40
# On 3 rows of 5: at 1,000,000 rows its pages go 12,000 deep, past the 10,000 measured.
COMMON_TAG = "common"
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
_WORDS = [
    "lighthouse",
    "harbour",
    "fox",
    "meadow",
    "city",
    "night",
    "storm",
    "garden",
    "robot",
    "violin",
    "river",
    "tower",
    "desert",
    "owl",
    "comet",
    "forest",
    "bridge",
    "lantern",
    "glacier",
    "market",
]


@dataclass(frozen=True)
class SeedImage:
    """The one picture every seeded row describes."""

    data: bytes
    sha256: str
    width: int
    height: int


def make_png(target_bytes: int = 200_000, seed: int = 7) -> SeedImage:
    """A deterministic PNG of about `target_bytes`: noise does not compress, so the size is
    chosen by the pixel count."""
    rng = random.Random(seed)
    side = int((target_bytes / 3) ** 0.5)
    picture = PILImage.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    out = io.BytesIO()
    picture.save(out, format="PNG", compress_level=1)
    data = out.getvalue()
    return SeedImage(data, hashlib.sha256(data).hexdigest(), side, side)


def seed_guid(index: int) -> uuid.UUID:
    """The guid of the `index`-th seeded row (0-based), the same in every run."""
    return uuid.UUID(int=random.Random(index).getrandbits(128), version=4)


def seed_tags(index: int) -> list[str]:
    tags = [COMMON_TAG] if index % 5 < 3 else []
    return [*tags, f"topic-{index % TOPICS}"]


def seed_created_at(index: int) -> datetime:
    # Strictly increasing: row `rows - 1` is the newest, page one's first.
    return EPOCH + timedelta(seconds=index, microseconds=index % 997)


def _rows(start: int, stop: int, image: SeedImage) -> Iterator[tuple[dict[str, Any], list[str]]]:
    for i in range(start, stop):
        guid = seed_guid(i)
        created = seed_created_at(i).replace(tzinfo=None)
        prompt = f"{_WORDS[i % 20]} and {_WORDS[(i * 7) % 20]} at dawn, study number {i}"
        tags = seed_tags(i)
        row = {
            "id": i + 1,
            "guid": str(guid),
            "filename": f"{guid}.png",
            "prompt": prompt,
            "tags": tags_column(tags),
            "author": f"{SEED_AUTHOR_PREFIX}{i % AUTHORS:03d}",
            "content_type": "image/png",
            "byte_size": len(image.data),
            "width": image.width,
            "height": image.height,
            "model": "gpt-image-2",
            "sha256": image.sha256,
            "revised_prompt": f"{prompt}, revised" if i % 3 == 0 else None,
            "upstream_request_id": f"req_seed_{i}",
            "usage_input_tokens": 20,
            "usage_output_tokens": 1056,
            "usage_total_tokens": 1076,
            "created_at": created,
            "updated_at": created,
        }
        yield row, tags


SEED_IMAGE_COLUMNS = [
    "id",
    "guid",
    "filename",
    "prompt",
    "tags",
    "author",
    "content_type",
    "byte_size",
    "width",
    "height",
    "model",
    "sha256",
    "revised_prompt",
    "upstream_request_id",
    "usage_input_tokens",
    "usage_output_tokens",
    "usage_total_tokens",
    "created_at",
    "updated_at",
]
_TAG_COLUMNS = ["image_id", "tag", "ordinal", "created_at", "guid"]


def _insert_sql(table: str, columns: Sequence[str], placeholder: str) -> str:
    marks = ", ".join(placeholder.format(c) for c in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"


def seed(url: str, rows: int, image: SeedImage, *, batch: int = 5000) -> float:
    """Create a fresh schema at `url` and insert `rows` images; return the seconds it took.
    Existing pixyproxy tables at `url` are dropped first."""
    started = time.perf_counter()
    engine = create_engine_from_url(url, pool_size=1, max_overflow=0)
    try:
        with engine.begin() as connection:
            for table in reversed(metadata.sorted_tables):
                connection.execute(sa.text(f"DROP TABLE IF EXISTS {table.name}"))
            connection.execute(sa.text(f"DROP TABLE IF EXISTS {VERSION_TABLE}"))
        SqlSchemaMigrator(engine).upgrade()
        raw = engine.raw_connection()
        try:
            _insert_all(raw, engine.dialect.name, rows, image, batch)
        finally:
            raw.close()
    finally:
        engine.dispose()
    return time.perf_counter() - started


def _insert_all(raw: Any, dialect: str, rows: int, image: SeedImage, batch: int) -> None:
    mysql = dialect in ("mysql", "mariadb")
    placeholder = "%({})s" if mysql else ":{}"
    insert_image = _insert_sql("images", SEED_IMAGE_COLUMNS, placeholder)
    insert_tag = _insert_sql("image_tags", _TAG_COLUMNS, placeholder)
    cursor = raw.cursor()
    if mysql:
        # Our own fresh tables: the checks would only slow the load down.
        cursor.execute("SET SESSION unique_checks = 0, foreign_key_checks = 0")
    for start in range(0, rows, batch):
        image_rows: list[dict[str, Any]] = []
        tag_rows: list[dict[str, Any]] = []
        for row, tags in _rows(start, min(start + batch, rows), image):
            image_rows.append(row)
            tag_rows.extend(
                {
                    "image_id": row["id"],
                    "tag": tag,
                    "ordinal": n,
                    "created_at": row["created_at"],
                    "guid": row["guid"],
                }
                for n, tag in enumerate(tags)
            )
        cursor.executemany(insert_image, image_rows)
        cursor.executemany(insert_tag, tag_rows)
        raw.commit()
    cursor.close()


def link_content(directory: str, image: SeedImage, indexes: Sequence[int]) -> list[str]:
    """Give the seeded rows at `indexes` their bytes: one file, hard-linked under each key
    (a million copies of 200 KB would not fit; the page cache holds one). Returns the keys."""
    os.makedirs(directory, exist_ok=True)
    master = os.path.join(directory, ".bench-master.png")
    with open(master, "wb") as f:
        f.write(image.data)
    keys = []
    for i in indexes:
        key = f"{seed_guid(i)}.png"
        path = os.path.join(directory, key)
        if not os.path.exists(path):
            os.link(master, path)
        keys.append(key)
    return keys
