"""The baselines: a minimal FastAPI app, as lean as it can be.

- `GET /image/{guid}`: the same single-row query pixyproxy runs (its SQL text), through the
  same driver and pool (`create_engine_from_url` with the pool settings pixyproxy reads from the
  same environment), rendered with `json.dumps`: the framework's ceiling for details.
- `GET /memory/image/{guid}` and `GET /memory/image/{guid}/content`: the same answers from a
  dict loaded at start, `If-None-Match` honoured: the server's ceiling.

Run: `uvicorn bench.baseline_app:create_app --factory`, with `PIXYPROXY_DATABASE_URL`,
`BENCH_GUIDS` (a file of guids to hold in memory) and `BENCH_IMAGE` (the PNG) set.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from anyio import to_thread
from fastapi import FastAPI, Request, Response

from pixyproxy.adapters.driven.sql import create_engine_from_url
from pixyproxy.adapters.driven.sql.statements import IMAGE_BY_GUID_SQL
from pixyproxy.app.settings import Settings

# pixyproxy's own details query, as plain text: same SQL, no column types or converters.
_BY_GUID = sa.text(IMAGE_BY_GUID_SQL)
_NOT_SHOWN = (
    "id",
    "sha256",
    "upstream_request_id",
    "usage_input_tokens",
    "usage_output_tokens",
    "usage_total_tokens",
)


def _render(row: Any) -> bytes:
    detail = dict(row._mapping)
    for name in _NOT_SHOWN:
        del detail[name]
    detail["tags"] = json.loads(detail["tags"])
    detail["created_at"] = detail["created_at"].isoformat() + "Z"
    detail["updated_at"] = detail["updated_at"].isoformat() + "Z"
    return json.dumps(detail).encode()


def create_app() -> FastAPI:
    settings = Settings()
    engine = create_engine_from_url(
        settings.effective_database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout_s=settings.db_pool_timeout_s,
        connect_timeout_s=settings.db_connect_timeout_s,
        pool_recycle_s=settings.db_pool_recycle_s,
    )
    image = Path(os.environ["BENCH_IMAGE"]).read_bytes()
    memory: dict[str, tuple[bytes, str]] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        to_thread.current_default_thread_limiter().total_tokens = settings.threadpool_size
        guids = Path(os.environ["BENCH_GUIDS"]).read_text().split()
        with engine.connect() as connection:
            for guid in guids:
                row = connection.execute(_BY_GUID, {"guid": guid}).first()
                if row is not None:
                    memory[guid] = (_render(row), f'"{row.sha256}"')
        yield
        engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/image/{guid}")
    def details(guid: str) -> Response:
        with engine.connect() as connection:
            row = connection.execute(_BY_GUID, {"guid": guid}).first()
        if row is None:
            return Response(status_code=404)
        return Response(_render(row), media_type="application/json")

    @app.get("/memory/image/{guid}")
    async def details_from_memory(guid: str) -> Response:
        found = memory.get(guid)
        if found is None:
            return Response(status_code=404)
        return Response(found[0], media_type="application/json")

    @app.get("/memory/image/{guid}/content")
    async def content_from_memory(guid: str, request: Request) -> Response:
        found = memory.get(guid)
        if found is None:
            return Response(status_code=404)
        etag = found[1]
        headers = {"ETag": etag, "Cache-Control": "public, max-age=31536000, immutable"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(image, media_type="image/png", headers=headers)

    return app
