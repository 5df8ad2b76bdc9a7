"""The image resource: routes parse, call one use case, render."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any
from uuid import UUID

from anyio import to_thread
from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import TypeAdapter

from pixyproxy.adapters.driving.web.conditional import none_match, strong_etag
from pixyproxy.adapters.driving.web.content.response import (
    IMMUTABLE,
    Conditions,
    ContentDelivery,
    content_response,
)
from pixyproxy.adapters.driving.web.content.serving import ContentServing
from pixyproxy.adapters.driving.web.deps import (
    CurrentAuthor,
    PrivateImagesDep,
    container_of,
    public_images_of,
)
from pixyproxy.adapters.driving.web.schemas import (
    GenerateImageBody,
    ImageDetail,
    Problem,
    RetagImageBody,
)
from pixyproxy.domain.models import Image, ImageContent
from pixyproxy.domain.renditions import Rendition
from pixyproxy.domain.values import PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX

router = APIRouter(tags=["images"])

_DESCRIPTIONS = {
    400: "Malformed request (e.g. a body that is not JSON).",
    401: "No API key, or an unknown or revoked one.",
    403: "The caller is not the image's author.",
    404: "No image with this GUID.",
    409: "Conflicting request.",
    413: "Request body too large.",
    416: "The range asked for lies outside the image (see Content-Range).",
    422: "Invalid input, or a prompt the image model refused.",
    429: "The image model is rate limiting; see Retry-After.",
    500: "Unexpected error, or the image's bytes are missing.",
    502: "The image model failed or returned no image.",
    503: "A dependency (database, image store, generation capacity) is unavailable.",
    504: "The image model did not answer in time.",
}


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


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem responses a route may give."""
    return {
        status: {
            "model": Problem,
            "description": _DESCRIPTIONS[status],
            "content": {"application/problem+json": {}},
        }
        for status in (*statuses, 500)
    }


@router.post(
    "/image",
    status_code=201,
    response_model=ImageDetail,
    summary="Generate an image from a prompt",
    responses={
        201: {
            "headers": {
                "Location": {"description": "The new image's URL.", "schema": {"type": "string"}}
            }
        },
        **problems(400, 401, 409, 413, 422, 429, 502, 503, 504),
    },
)
async def generate_image(
    body: GenerateImageBody,
    author: CurrentAuthor,
    images: PrivateImagesDep,
    idempotency_key: Annotated[
        str | None,
        Header(
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


@router.get(
    "/image/{guid}",
    response_model=ImageDetail,
    summary="An image's details",
    openapi_extra=read_headers("If-None-Match"),
    responses={
        304: {"description": "If-None-Match matched."},
        **problems(404, 422, 503),
    },
)
def get_image(guid: UUID, request: Request) -> Response:
    image = public_images_of(request).get(guid)
    return detail_response(image, request.headers.get("if-none-match"))


@router.patch(
    "/image/{guid}",
    response_model=ImageDetail,
    summary="Replace an image's tags (its author only)",
    responses=problems(400, 401, 403, 404, 413, 422, 503),
)
def retag_image(
    guid: UUID, body: RetagImageBody, author: CurrentAuthor, images: PrivateImagesDep
) -> Response:
    return detail_response(images.retag(author, guid, body.model_dump()), None)


@router.delete(
    "/image/{guid}",
    status_code=204,
    summary="Delete an image and its bytes (its author only)",
    responses=problems(401, 403, 404, 422, 503),
)
def delete_image(guid: UUID, author: CurrentAuthor, images: PrivateImagesDep) -> Response:
    images.delete(author, guid)
    return Response(status_code=204)


@router.get(
    "/image",
    response_model=list[ImageDetail],
    summary="Image details, newest first",
    description='Keyset-paginated: follow the `Link: <...>; rel="next"` header.',
    responses=problems(422, 503),
)
def list_images(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT_MAX)] = PAGE_LIMIT_DEFAULT,
    cursor: Annotated[str | None, Query(max_length=512, description="From a Link header.")] = None,
    tag: Annotated[list[str], Query(description="Repeatable; all must match.")] = [],  # noqa: B006
    author: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=200, description="Prompt substring.")] = None,
) -> Response:
    query = {"limit": limit, "cursor": cursor, "tags": tag, "author": author, "q": q}
    page = public_images_of(request).list(query)
    headers = {}
    if page.next_cursor is not None:
        next_url = request.url.include_query_params(cursor=page.next_cursor)
        headers["Link"] = f'<{next_url.path}?{next_url.query}>; rel="next"'
    body = _IMAGE_LIST.dump_json([ImageDetail.from_domain(i) for i in page.images])
    return Response(body, media_type="application/json", headers=headers)


# One pass in pydantic's serializer: about half the time of dumping each model to a dict and
# then json.dumps-ing the list.
_IMAGE_LIST = TypeAdapter(list[ImageDetail])


_CONTENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The image bytes, cacheable forever (images never change).",
        "content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}, "image/avif": {}},
        "headers": {
            "ETag": {
                "description": "Strong; the SHA-256 of the bytes.",
                "schema": {"type": "string"},
            },
            "Cache-Control": {"description": IMMUTABLE, "schema": {"type": "string"}},
            "Accept-Ranges": {"description": "bytes", "schema": {"type": "string"}},
        },
    },
    206: {"description": "The single byte range asked for, with Content-Range."},
    304: {"description": "If-None-Match matched: the cached copy is current."},
    307: {"description": "Redirect to a short-lived URL (content delivery `redirect`)."},
    **problems(404, 416, 422, 503),
}


CONTENT_PATH = "/image/{guid}/content"


@router.get(
    CONTENT_PATH,
    operation_id="get_image_content",
    summary="An image's bytes",
    response_class=Response,
    responses=_CONTENT_RESPONSES,
)
@router.head(
    CONTENT_PATH,
    operation_id="head_image_content",
    summary="An image's headers, without its bytes",
    response_class=Response,
    responses=_CONTENT_RESPONSES,
)
async def get_image_content(
    guid: UUID,
    request: Request,
    width: Annotated[
        str | None,
        Query(
            description="A rendition this wide (one of PIXYPROXY_RENDITION_WIDTHS); never "
            "wider than the original."
        ),
    ] = None,
    format: Annotated[
        str | None,
        Query(description="webp, avif, jpeg, png, or auto: the best the Accept header allows."),
    ] = None,
    accept: Annotated[str | None, Header()] = None,
    if_none_match: Annotated[str | None, Header()] = None,
    range_: Annotated[str | None, Header(alias="Range")] = None,
    if_range: Annotated[str | None, Header()] = None,
) -> Response:
    # No dependencies: the content fast path answers for this route and would skip them
    # (it refuses to start if any are added).
    serving: ContentServing = request.app.state.content
    delivery: ContentDelivery = request.app.state.content_delivery
    content = serving.source.held(guid)
    if content is None:
        content = await to_thread.run_sync(serving.source.content, guid)
    varies = False
    if width is not None or format is not None:
        renditions = container_of(request).renditions()
        choice = renditions.choose(content, width, format, accept)
        varies = choice.varies_by_accept
        if choice.spec is not None:
            made = (await renditions.rendition(content, choice.spec)).rendition
            content = rendition_content(content, made)
    conditions = Conditions(if_none_match, range_, if_range, varies)
    return await content_response(request, serving.source, content, delivery, conditions)


def rendition_content(original: ImageContent, rendition: Rendition) -> ImageContent:
    """A rendition as content to serve: its bytes live under its own blob key, which is what
    the content's `filename` names."""
    return ImageContent(
        guid=original.guid,
        filename=rendition.blob_key,
        content_type=rendition.content_type,
        byte_size=rendition.byte_size,
        sha256=rendition.sha256,
        width=rendition.width,
        height=rendition.height,
    )
