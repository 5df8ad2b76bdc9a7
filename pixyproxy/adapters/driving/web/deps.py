"""Reusable dependencies: the use cases from the app's container, and the caller's identity.

The container lives on `app.state`, not in module globals, so every app built by
`create_app` (one per test, one per worker) has its own and none needs wiring or patching.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from pixyproxy.adapters.driving.web.request_context import AUTHOR_SCOPE_KEY
from pixyproxy.app.api_keys import ApiKeys
from pixyproxy.app.private_images import PrivateImages
from pixyproxy.app.public_images import PublicImages
from pixyproxy.bootstrap import Container

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <api key>`")
_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="The API key, as an alternative header."
)


def container_of(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def public_images_of(request: Request) -> PublicImages:
    """The public use cases for the hot read routes, looked up in the route itself: resolving
    even a trivial sub-dependency is a measurable share of a details request."""
    return container_of(request).public_images()


# The providers below only build objects, so they are `async def`: FastAPI runs a plain
# `def` dependency in the threadpool, and each such hop costs more than the work itself.
async def private_images(request: Request) -> PrivateImages:
    return container_of(request).private_images()


async def api_keys(request: Request) -> ApiKeys:
    return container_of(request).api_keys()


def current_author(
    request: Request,
    keys: Annotated[ApiKeys, Depends(api_keys)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    header_key: Annotated[str | None, Security(_api_key_header)],
) -> str:
    """The owner of the presented key; 401 problem when it is missing, unknown or revoked,
    400 when the two headers carry different keys."""
    author = keys.authenticate(bearer.credentials if bearer is not None else None, header_key)
    # The scope outlives this threadpool call, so the access log can name the author.
    request.scope[AUTHOR_SCOPE_KEY] = author
    return author


PrivateImagesDep = Annotated[PrivateImages, Depends(private_images)]
CurrentAuthor = Annotated[str, Depends(current_author)]
