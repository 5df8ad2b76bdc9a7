"""An image's bytes (or a rendition's) as an HTTP answer: `content_answer` is the one function
both the route and the fast path call, so the two cannot answer differently."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from anyio import to_thread
from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from pixyproxy.adapters.driving.web.conditional import (
    UnsatisfiableRange,
    none_match,
    parse_range,
    strong_etag,
)
from pixyproxy.adapters.driving.web.content.source import CachedContent
from pixyproxy.adapters.driving.web.problems import problem_response
from pixyproxy.app.settings import Settings
from pixyproxy.domain.renditions import Representation

IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True, slots=True)
class ContentDelivery:
    """How image bytes leave: through us (`proxy`), by a redirect to the store (`redirect`),
    or by nginx reading the file we name in `X-Accel-Redirect` (`x-accel`)."""

    mode: str
    presigned_ttl_s: int
    x_accel_prefix: str

    @classmethod
    def from_settings(cls, settings: Settings) -> ContentDelivery:
        return cls(
            mode=settings.content_delivery,
            presigned_ttl_s=settings.presigned_url_ttl_s,
            x_accel_prefix=settings.x_accel_prefix,
        )

    def internal_uri(self, content: Representation) -> str:
        return self.x_accel_prefix.rstrip("/") + "/" + content.blob_key


@dataclass(frozen=True, slots=True)
class Conditions:
    """The parts of a request that shape a content answer: the rendition its query asks for
    (`?width=&format=`, none when both are absent) and its headers."""

    if_none_match: str | None = None
    range: str | None = None
    if_range: str | None = None
    width: str | None = None
    format: str | None = None
    accept: str | None = None


async def content_answer(
    request: Request,
    source: CachedContent,
    guid: UUID,
    delivery: ContentDelivery,
    conditions: Conditions,
) -> Response:
    """The answer to GET or HEAD of an image's content, or of the rendition `conditions` ask
    for. Raises `ImageNotFound`, `UnsupportedRendition`, and what `content_response` and
    `CachedContent.asked` raise."""
    original = source.held(guid)
    if original is None:
        original = await to_thread.run_sync(source.content, guid)
    content: Representation = original
    varies_by_accept = False
    if conditions.width is not None or conditions.format is not None:
        content, varies_by_accept = await source.asked(
            original, conditions.width, conditions.format, conditions.accept
        )
    return await content_response(
        request, source, content, delivery, conditions, varies_by_accept=varies_by_accept
    )


async def content_response(
    request: Request,
    source: CachedContent,
    content: Representation,
    delivery: ContentDelivery,
    conditions: Conditions,
    *,
    varies_by_accept: bool = False,
) -> Response:
    """The answer to GET or HEAD of one representation of an image's content (`Vary:
    Accept` when it was chosen by that header). Blocking work (reading or checking bytes this
    worker does not hold, signing a URL) runs in the threadpool. Raises `ImageNotFound` when
    the image turns out to be gone, `BlobNotFound` when its row outlived its bytes: HEAD finds
    that out as GET does, so the two always agree."""
    etag = strong_etag(content.sha256)
    headers = {
        "ETag": etag,
        "Cache-Control": IMMUTABLE,
        "Content-Disposition": f'inline; filename="{content.filename}"',
        "Accept-Ranges": "bytes",
    }
    vary = {"Vary": "Accept"} if varies_by_accept else {}
    headers.update(vary)
    if none_match(conditions.if_none_match, etag):
        return Response(status_code=304, headers=headers)
    if delivery.mode == "redirect":
        ttl_s = delivery.presigned_ttl_s
        url = source.held_presigned_url(content, ttl_s)
        if url is None:
            url = await to_thread.run_sync(source.presigned_url, content, ttl_s)
        if url is not None:
            return RedirectResponse(
                url, status_code=307, headers={"Cache-Control": "no-store", **vary}
            )
    if delivery.mode == "x-accel":
        headers["X-Accel-Redirect"] = delivery.internal_uri(content)
        return Response(media_type=content.content_type, headers=headers)
    size = content.byte_size
    try:
        wanted = parse_range(
            conditions.range if conditions.if_range in (None, etag) else None, size
        )
    except UnsatisfiableRange:
        return problem_response(
            request,
            status=416,
            title="Range not satisfiable",
            detail=f"the image has {size} bytes; the range asked for lies outside",
            type_name="RangeNotSatisfiable",
            headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes", **vary},
        )
    headers["Content-Length"] = str(wanted.length if wanted else size)
    if wanted:
        headers["Content-Range"] = wanted.content_range(size)
    status = 206 if wanted else 200
    if request.method == "HEAD":
        if not source.holds_bytes(content):
            await to_thread.run_sync(source.check_bytes, content)
        return Response(status_code=status, media_type=content.content_type, headers=headers)
    data = source.bytes_at_hand(content)
    if data is None:
        data = await to_thread.run_sync(source.read_bytes, content)
    body = data[wanted.start : wanted.end + 1] if wanted else data
    return Response(body, status_code=status, media_type=content.content_type, headers=headers)
