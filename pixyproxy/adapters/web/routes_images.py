"""The image resource: routes parse, call one use case, render."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from pixyproxy.adapters.web.deps import CurrentAuthor, PrivateImagesDep, PublicImagesDep
from pixyproxy.adapters.web.schemas import GenerateImageBody, ImageDetail, Problem
from pixyproxy.domain.values import PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX

router = APIRouter(tags=["images"])

_DESCRIPTIONS = {
    400: "Malformed request (e.g. a body that is not JSON).",
    401: "No API key, or an unknown or revoked one.",
    403: "The caller is not the image's author.",
    404: "No image with this GUID.",
    409: "Conflicting request.",
    413: "Request body too large.",
    422: "Invalid input, or a prompt the image model refused.",
    429: "The image model is rate limiting; see Retry-After.",
    500: "Unexpected error, or the image's bytes are missing.",
    502: "The image model failed or returned no image.",
    503: "A dependency (database, image store, generation capacity) is unavailable.",
    504: "The image model did not answer in time.",
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
    responses=problems(400, 401, 413, 422, 429, 502, 503, 504),
)
async def generate_image(
    body: GenerateImageBody, author: CurrentAuthor, images: PrivateImagesDep, response: Response
) -> ImageDetail:
    image = await images.generate(author, body.model_dump())
    response.headers["Location"] = f"/image/{image.guid}"
    return ImageDetail.from_domain(image)


@router.get(
    "/image/{guid}",
    response_model=ImageDetail,
    summary="An image's details",
    responses=problems(404, 422, 503),
)
def get_image(guid: UUID, images: PublicImagesDep) -> ImageDetail:
    return ImageDetail.from_domain(images.get(guid))


@router.get(
    "/image",
    response_model=list[ImageDetail],
    summary="Image details, newest first",
    description='Keyset-paginated: follow the `Link: <...>; rel="next"` header.',
    responses=problems(422, 503),
)
def list_images(
    request: Request,
    images: PublicImagesDep,
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT_MAX)] = PAGE_LIMIT_DEFAULT,
    cursor: Annotated[str | None, Query(max_length=512, description="From a Link header.")] = None,
    tag: Annotated[list[str], Query(description="Repeatable; all must match.")] = [],  # noqa: B006
    author: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=200, description="Prompt substring.")] = None,
) -> JSONResponse:
    page = images.list({"limit": limit, "cursor": cursor, "tags": tag, "author": author, "q": q})
    headers = {}
    if page.next_cursor is not None:
        next_url = request.url.include_query_params(cursor=page.next_cursor)
        headers["Link"] = f'<{next_url.path}?{next_url.query}>; rel="next"'
    body = [ImageDetail.from_domain(i).model_dump(mode="json") for i in page.images]
    return JSONResponse(body, headers=headers)


@router.get(
    "/image/{guid}/content",
    summary="An image's bytes",
    response_class=Response,
    responses={
        200: {
            "description": "The image bytes.",
            "content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}},
        },
        **problems(404, 422, 503),
    },
)
def get_image_content(guid: UUID, images: PublicImagesDep) -> Response:
    content = images.content(guid)
    return Response(content.data, media_type=content.image.content_type)
