"""The image resource: routes parse, call one use case, render."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any
from uuid import UUID

from fastapi import Header, Query, Request, Response
from pydantic import BaseModel, Field, TypeAdapter, WithJsonSchema

from pixyproxy.adapters.driving.web.conditional import none_match, strong_etag
from pixyproxy.adapters.driving.web.content.response import (
    IMMUTABLE,
    Conditions,
    ContentDelivery,
    content_answer,
)
from pixyproxy.adapters.driving.web.content.source import CachedContent
from pixyproxy.adapters.driving.web.deps import CurrentAuthor, PrivateImagesDep, public_images_of
from pixyproxy.adapters.driving.web.routing import Endpoints
from pixyproxy.adapters.driving.web.schemas import (
    GENERATE_EXAMPLE,
    IMAGE_DETAIL_EXAMPLE,
    GenerateImageBody,
    ImageDetail,
    RetagImageBody,
)
from pixyproxy.app.cursor import MAX_CURSOR_CHARS
from pixyproxy.domain.models import Image
from pixyproxy.domain.values import (
    AUTHOR_PATTERN,
    IDEMPOTENCY_KEY_PATTERN,
    PAGE_LIMIT_DEFAULT,
    PAGE_LIMIT_MAX,
    SearchText,
    TagList,
)

images = Endpoints("images")
router = images.router

_ETAG = {"description": "Of exactly this representation.", "schema": {"type": "string"}}
_DETAIL_HEADERS = {"ETag": {**_ETAG, "required": True}}
_NO_IMAGE = {404: "No image with this GUID.", 422: "The GUID is not a GUID."}


def read_headers(*names: str) -> dict[str, Any]:
    """`openapi_extra` documenting the optional request headers a hot route reads itself from
    `request.headers`: each `Header()` parameter costs FastAPI about as much per request as
    the rest of a details request's routing (bench/RESULTS.md, scenario 1's profiles)."""
    return {
        "parameters": [
            {"in": "header", "name": name, "required": False, "schema": {"type": "string"}}
            for name in names
        ]
    }


def _json(example: Any, headers: dict[str, Any] | None = None, **more: Any) -> dict[str, Any]:
    return {
        "content": {"application/json": {"example": example}},
        "headers": headers or {},
        **more,
    }


@images.post(
    "/image",
    operation_id="generateImage",
    summary="Generate an image from a prompt",
    public=False,
    status_code=201,
    response_model=ImageDetail,
    problems=(400, 401, 409, 413, 415, 422, 429, 502, 503, 504),
    responses={
        201: _json(
            IMAGE_DETAIL_EXAMPLE,
            {
                "Location": {
                    "description": "The new image's details: `/image/{guid}`.",
                    "required": True,
                    "schema": {"type": "string"},
                },
                **_DETAIL_HEADERS,
            },
            description="Generated and stored.",
        )
    },
    openapi_extra={"requestBody": {"content": {"application/json": {"example": GENERATE_EXAMPLE}}}},
)
async def generate_image(
    body: GenerateImageBody,
    author: CurrentAuthor,
    images: PrivateImagesDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            pattern=IDEMPOTENCY_KEY_PATTERN,
            description="1-255 printable ASCII characters. A retry with the same key and body "
            "within 24 hours returns the first answer without generating again.",
        ),
    ] = None,
) -> Response:
    image = await images.generate(author, body.model_dump(), idempotency_key)
    response = detail_response(image, None, status=201)
    response.headers["Location"] = f"/image/{image.guid}"
    return response


def detail_response(image: Image, if_none_match: str | None, status: int = 200) -> Response:
    """The details as JSON with an ETag of exactly these bytes (tags can change)."""
    body = ImageDetail.from_domain(image).model_dump_json().encode()
    etag = strong_etag(hashlib.sha256(body).hexdigest()[:32])
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if status == 200 and none_match(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


@images.get(
    "/image/{guid}",
    operation_id="getImage",
    summary="An image's details",
    response_model=ImageDetail,
    openapi_extra=read_headers("If-None-Match"),
    problems={**_NO_IMAGE, 503: ""},
    responses={
        200: _json(IMAGE_DETAIL_EXAMPLE, _DETAIL_HEADERS),
        304: {"description": "If-None-Match matched.", "headers": _DETAIL_HEADERS},
    },
)
def get_image(guid: UUID, request: Request) -> Response:
    image = public_images_of(request).get(guid)
    return detail_response(image, request.headers.get("if-none-match"))


@images.patch(
    "/image/{guid}",
    operation_id="retagImage",
    summary="Replace an image's tags (its author only)",
    public=False,
    response_model=ImageDetail,
    problems={400: "", 401: "", 403: "", **_NO_IMAGE, 413: "", 415: "", 503: ""},
    responses={200: _json(IMAGE_DETAIL_EXAMPLE, _DETAIL_HEADERS)},
    openapi_extra={
        "requestBody": {"content": {"application/json": {"example": {"tags": ["harbour"]}}}}
    },
)
def retag_image(
    guid: UUID, body: RetagImageBody, author: CurrentAuthor, images: PrivateImagesDep
) -> Response:
    return detail_response(images.retag(author, guid, body.model_dump()), None)


@images.delete(
    "/image/{guid}",
    operation_id="deleteImage",
    summary="Delete an image and its bytes (its author only)",
    public=False,
    status_code=204,
    problems={400: "", 401: "", 403: "", **_NO_IMAGE, 503: ""},
    responses={204: {"description": "Deleted, bytes and all."}},
)
def delete_image(guid: UUID, author: CurrentAuthor, images: PrivateImagesDep) -> Response:
    images.delete(author, guid)
    return Response(status_code=204)


class ImagePage(BaseModel):
    """One page of the listing, for clients that cannot read response headers."""

    items: list[ImageDetail]
    next_cursor: str | None = Field(description="For `cursor=`; null on the last page.")


_LINK = {
    "description": 'The next page: `</image?...&cursor=...>; rel="next"` (relative); absent '
    "on the last page.",
    "schema": {"type": "string"},
}
CursorParam = Annotated[
    str,
    # Documented, not enforced here: whatever is sent, the decoder answers `invalid-cursor`.
    WithJsonSchema({"type": "string", "pattern": f"^[A-Za-z0-9_-]{{1,{MAX_CURSOR_CHARS}}}$"}),
]


@images.get(
    "/image",
    operation_id="listImages",
    summary="Image details, newest first",
    description='Keyset-paginated: follow the `Link: <...>; rel="next"` header, or ask for '
    "`envelope=true` to get `{items, next_cursor}` in the body instead of a bare list.",
    response_model=list[ImageDetail] | ImagePage,
    problems={
        422: "A bad parameter, an unknown one, or a cursor this service did not issue.",
        503: "",
    },
    responses={200: _json([IMAGE_DETAIL_EXAMPLE], {"Link": _LINK})},
)
def list_images(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT_MAX)] = PAGE_LIMIT_DEFAULT,
    cursor: Annotated[
        CursorParam | None, Query(description="From the previous page; opaque.")
    ] = None,
    tag: Annotated[TagList, Query(description="Repeatable; all must match.")] = [],  # noqa: B006
    author: Annotated[str | None, Query(pattern=AUTHOR_PATTERN)] = None,
    q: Annotated[SearchText | None, Query(description="A substring of the prompt.")] = None,
    envelope: Annotated[
        bool, Query(description="`{items, next_cursor}` instead of a bare list.")
    ] = False,
) -> Response:
    query = {"limit": limit, "cursor": cursor, "tags": tag, "author": author, "q": q}
    page = public_images_of(request).list(query)
    details = [ImageDetail.from_domain(i) for i in page.images]
    headers = {}
    if page.next_cursor is not None:
        next_url = request.url.include_query_params(cursor=page.next_cursor)
        headers["Link"] = f'<{next_url.path}?{next_url.query}>; rel="next"'
    if envelope:
        body = ImagePage(items=details, next_cursor=page.next_cursor).model_dump_json()
        return Response(body, media_type="application/json", headers=headers)
    return Response(_IMAGE_LIST.dump_json(details), media_type="application/json", headers=headers)


# One pass in pydantic's serializer: about half the time of dumping each model to a dict and
# then json.dumps-ing the list.
_IMAGE_LIST = TypeAdapter(list[ImageDetail])

_BYTES = {"schema": {"type": "string", "format": "binary"}}
_IMAGE_TYPES = {
    "image/png": _BYTES,
    "image/jpeg": _BYTES,
    "image/webp": _BYTES,
    "image/avif": _BYTES,
}
_CONTENT_HEADERS = {
    "ETag": {"description": "Strong; the SHA-256 of the bytes.", "schema": {"type": "string"}},
    "Cache-Control": {"description": IMMUTABLE, "schema": {"type": "string"}},
    "Accept-Ranges": {"description": "bytes", "schema": {"type": "string"}},
    "Content-Length": {"description": "Bytes in this answer.", "schema": {"type": "string"}},
}
_CONTENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The image bytes, cacheable forever (images never change).",
        "content": _IMAGE_TYPES,
        "headers": _CONTENT_HEADERS,
    },
    206: {
        "description": "The single byte range asked for.",
        "content": _IMAGE_TYPES,
        "headers": {
            **_CONTENT_HEADERS,
            "Content-Range": {
                "description": "`bytes <first>-<last>/<size>`",
                "required": True,
                "schema": {"type": "string"},
            },
        },
    },
    304: {
        "description": "If-None-Match matched: the cached copy is current.",
        "headers": _CONTENT_HEADERS,
    },
    307: {
        "description": "Redirect to a short-lived URL (content delivery `redirect`).",
        "headers": {
            "Location": {
                "description": "A presigned URL of the image store.",
                "required": True,
                "schema": {"type": "string"},
            }
        },
    },
}


CONTENT_PATH = "/image/{guid}/content"


@images.get(
    CONTENT_PATH,
    operation_id="getImageContent",
    summary="An image's bytes",
    head_summary="An image's headers, without its bytes",
    document_head=True,
    response_class=Response,
    problems={
        **_NO_IMAGE,
        416: "",
        422: "The GUID is not a GUID; a `width` or `format` not offered (`errors` names the "
        "allowed values); or an image with more pixels than this server renders.",
        503: "A dependency (database, image store) is unavailable, or every render slot "
        "stayed busy (see Retry-After).",
    },
    responses=_CONTENT_RESPONSES,
)
async def get_image_content(
    guid: UUID,
    request: Request,
    width: Annotated[
        str | None,
        Query(
            description="A rendition this wide: one of `renditions.widths` in "
            "`GET /capabilities`; never wider than the original."
        ),
    ] = None,
    format: Annotated[
        str | None,
        Query(
            description="One of `renditions.formats` in `GET /capabilities` (webp, avif, jpeg, "
            "png): `auto` is the best the `Accept` header allows, with `Vary: Accept`."
        ),
    ] = None,
    accept: Annotated[str | None, Header()] = None,
    if_none_match: Annotated[str | None, Header()] = None,
    range_: Annotated[
        str | None, Header(alias="Range", description="One range: `bytes=0-99`, `bytes=-100`.")
    ] = None,
    if_range: Annotated[str | None, Header()] = None,
) -> Response:
    # No dependencies: the content fast path answers for this route and would skip them
    # (it refuses to start if any are added).
    source: CachedContent = request.app.state.content_source
    delivery: ContentDelivery = request.app.state.content_delivery
    conditions = Conditions(if_none_match, range_, if_range, width, format, accept)
    return await content_answer(request, source, guid, delivery, conditions)
