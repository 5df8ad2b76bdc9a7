"""Listing pages cost the same at the start and deep into the history, on MySQL/MariaDB.

A few thousand rows are enough for the optimizer to choose as it would in production; the
proof is what EXPLAIN reports (no filesort, the intended index) and how many rows the storage
engine hands over (the session's Handler_read_* counters), not how long anything takes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from pixyproxy.adapters.driven.sql import SqlSchemaMigrator, create_engine_from_url
from pixyproxy.adapters.driven.sql import statements as q
from pixyproxy.adapters.driven.sql.rows import image_to_row, tag_rows
from pixyproxy.domain.models import Image, ImageQuery, PageAnchor
from tests.integration.test_sql_image_repository_contract import make_image

pytestmark = pytest.mark.mysql

IMAGES = 3000
LIMIT = 20
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _image(n: int) -> Image:
    tags = tuple(tag for tag, every in (("even", 2), ("third", 3), ("rare", 50)) if n % every == 0)
    return make_image(
        # Pairs share a timestamp, so anchors fall on ties too.
        created_at=T0 + timedelta(milliseconds=n // 2),
        tags=tags,
        author=f"author{n % 10}",
        prompt=f"picture {n} of a " + ("fox" if n % 7 == 0 else "whale"),
    )


@pytest.fixture(scope="module")
def seeded(make_mysql_database: Callable[[], str]) -> Iterator[tuple[sa.Engine, list[Image]]]:
    engine = create_engine_from_url(make_mysql_database())
    SqlSchemaMigrator(engine).upgrade()
    images = [_image(n) for n in range(IMAGES)]
    with engine.begin() as connection:
        connection.execute(q.INSERT_IMAGE, [image_to_row(i) for i in images])
        found = connection.execute(sa.text("SELECT guid, id FROM images"))
        ids: dict[str, int] = {guid: image_id for guid, image_id in found}
        images = [replace(i, id=ids[str(i.guid)]) for i in images]
        rows = [r for i in images for r in tag_rows(i.id or 0, i.guid, i.created_at, i.tags)]
        connection.execute(q.INSERT_TAG, rows)
    with engine.connect() as connection:
        for table in ("images", "image_tags"):
            connection.execute(sa.text(f"ANALYZE TABLE {table}")).all()
    yield engine, images
    engine.dispose()


def _driver_params(params: dict[str, Any]) -> dict[str, Any]:
    # Plain text() below has no column types, so hand pymysql the naive UTC the columns hold.
    return {
        k: v.astimezone(UTC).replace(tzinfo=None) if isinstance(v, datetime) else v
        for k, v in params.items()
    }


def _handler_reads(connection: sa.Connection) -> int:
    rows = connection.execute(sa.text("SHOW SESSION STATUS LIKE 'Handler_read%'"))
    return sum(int(value) for _, value in rows)


def _rows_read(engine: sa.Engine, query: ImageQuery) -> tuple[int, list[dict[str, Any]]]:
    statement, params = q.list_images(query)
    sql, params = statement.text, _driver_params(params)
    with engine.connect() as connection:
        explained = connection.execute(sa.text(f"EXPLAIN {sql}"), params).mappings()
        plan = [dict(row) for row in explained]
        before = _handler_reads(connection)
        connection.execute(sa.text(sql), params).all()
        after = _handler_reads(connection)
        # SHOW STATUS reads a little itself; measure that once and take it off.
        overhead = _handler_reads(connection) - after
    return after - before - overhead, plan


CASES = [
    ({}, "ix_images_newest"),
    ({"author": "author3"}, "ix_images_author_newest"),
    ({"tags": ("even",)}, "ix_image_tags_newest"),
    ({"tags": ("rare",)}, "ix_image_tags_newest"),
    ({"tags": ("even", "third")}, "ix_image_tags_newest"),
    ({"text": "fox"}, "ix_images_newest"),
]


@pytest.mark.parametrize(("filters", "index"), CASES, ids=lambda c: str(c))
def test_a_deep_page_reads_no_more_rows_than_the_first(
    seeded: tuple[sa.Engine, list[Image]], filters: dict[str, Any], index: str
) -> None:
    engine, images = seeded
    matching = [
        i
        for i in sorted(images, key=lambda i: (i.created_at, str(i.guid)), reverse=True)
        if set(filters.get("tags", ())) <= set(i.tags)
        and filters.get("author", i.author) == i.author
        and filters.get("text", "") in i.prompt
    ]
    # An anchor nine tenths of the way down, with a full page still after it.
    deep = matching[min(len(matching) * 9 // 10, len(matching) - LIMIT - 1)]
    anchor = PageAnchor(deep.created_at, deep.guid)

    first_reads, first_plan = _rows_read(engine, ImageQuery(limit=LIMIT, **filters))
    deep_reads, deep_plan = _rows_read(engine, ImageQuery(limit=LIMIT, after=anchor, **filters))

    for plan in (first_plan, deep_plan):
        assert plan[0]["key"] == index, plan
        assert not any("filesort" in (row["Extra"] or "") for row in plan), plan
        assert not any("temporary" in (row["Extra"] or "") for row in plan), plan
    # Pages start at different points of the tags' pattern, hence a little slack; a plan that
    # walked down to the anchor would read thousands of rows.
    assert deep_reads <= first_reads * 1.1 + 3, (first_reads, deep_reads)
