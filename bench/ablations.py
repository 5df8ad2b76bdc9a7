"""pixyproxy with one content speedup taken out, so `make bench` shows what each one buys.

`uvicorn bench.ablations:create_app --factory` with `BENCH_WITHOUT` naming the speedup. The ones
that settings can turn off are turned off by settings; the others are replaced here, in this
process only, by the plain way of doing the same (what the code did before the speedup).
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from pixyproxy.adapters.driving.web import app as web_app
from pixyproxy.adapters.driving.web.content.cache import ContentCache
from pixyproxy.adapters.driving.web.observability import configure_logging
from pixyproxy.app.public_images import PublicImages
from pixyproxy.app.settings import Settings
from pixyproxy.domain.renditions import Representation

SPEEDUPS = {
    "facts-cache": "content facts kept per worker (PIXYPROXY_CONTENT_CACHE_TTL_S=0)",
    "bytes-cache": "hot images' bytes kept per worker (PIXYPROXY_CONTENT_CACHE_BYTES=0)",
    "url-reuse": "presigned URLs reused while half their life remains",
    "fast-path": "the fast path before FastAPI's routing",
    "read-at-hand": "page-cached bytes read on the event loop (preadv RWF_NOWAIT)",
}


def _never_held_url(self: ContentCache, blob_key: str, expires_s: int) -> str | None:
    return None


def _never_at_hand(self: PublicImages, content: Representation) -> bytes | None:
    return None


def create_app() -> FastAPI:
    without = os.environ["BENCH_WITHOUT"]
    if without not in SPEEDUPS:
        raise SystemExit(f"BENCH_WITHOUT must be one of {sorted(SPEEDUPS)}")
    settings = Settings()
    if without == "facts-cache":
        settings = settings.model_copy(update={"content_cache_ttl_s": 0.0})
    elif without == "bytes-cache":
        settings = settings.model_copy(update={"content_cache_bytes": 0})
    elif without == "url-reuse":
        ContentCache.url = _never_held_url  # type: ignore[method-assign]
    elif without == "read-at-hand":
        PublicImages.bytes_at_hand = _never_at_hand  # type: ignore[method-assign]
    configure_logging(settings.log_format, settings.log_level)
    return web_app.create_app(settings, content_fast_path=without != "fast-path")
