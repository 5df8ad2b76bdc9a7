"""GET and HEAD of an image's content, answered before FastAPI's routing.

Routing, parameter validation and dependency resolution cost more than the rest of a
revalidation (304) or an offloaded answer. This layer takes the content facts from the
worker's memory or, for images it does not hold, from a lookup shared with the requests that
arrive meanwhile (`ContentLoader`), and answers with `content_response`, the very function
the route calls, so status, headers and body are the same by construction. Anything else (an
unknown guid, a path in another spelling, a root path, a query string, an error) goes on to the
route.

It sits inside every other middleware, so request ids, security and CORS headers, the access
log and the metrics apply as they do to the route.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from uuid import UUID

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from pixyproxy.adapters.driving.web.content import Conditions, ContentDelivery, content_response
from pixyproxy.app.content_loader import ContentLoader
from pixyproxy.app.public_images import PublicImages
from pixyproxy.domain.exceptions import PixyProxyException

_HEX = "[0-9a-fA-F]"
# The canonical spelling only; the route parses every other one.
_GUID = f"({_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}})"


class ContentFastPath:
    def __init__(
        self,
        app: ASGIApp,
        *,
        images: Callable[[], PublicImages],
        loader: Callable[[], ContentLoader],
        delivery: ContentDelivery,
        path: str,
        routes: dict[str, BaseRoute],
    ) -> None:
        """`path`: the route's template, with `{guid}`; `routes`: the route by method."""
        self.app = app
        self._path = re.compile(re.escape(path).replace(re.escape("{guid}"), _GUID))
        self._images = images
        self._loader = loader
        self._delivery = delivery
        self._routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and not scope.get("root_path")
            # The route checks query parameters (unknown ones are a 422); none are expected.
            and not scope.get("query_string")
            and (match := self._path.fullmatch(scope["path"])) is not None
        ):
            response = await self._answer(Request(scope, receive), UUID(match[1]))
            if response is not None:
                # The metrics and the access log name the route template, as for the route.
                scope["route"] = self._routes[scope["method"]]
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _answer(self, request: Request, guid: UUID) -> Response | None:
        """None when the route should answer: no such image, or trouble (the route meets the
        same trouble and renders its problem)."""
        images = self._images()
        try:
            content = await self._loader().load(guid)
            if content is None:
                return None
            conditions = _conditions(request.scope)
            return await content_response(request, images, content, self._delivery, conditions)
        except PixyProxyException:
            return None


def _conditions(scope: Scope) -> Conditions:
    # The first of repeated headers, as FastAPI's `Header()` parameters take it.
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in (b"if-none-match", b"range", b"if-range") and name not in found:
            found[name] = value.decode("latin-1")
    return Conditions(found.get(b"if-none-match"), found.get(b"range"), found.get(b"if-range"))
