"""GET and HEAD of an image's content, answered before FastAPI's routing.

Routing, parameter validation and dependency resolution cost more than the rest of a
revalidation (304) or an offloaded answer. This layer takes the content facts from the
worker's memory (or looks them up, as the route would) and answers with `content_response`,
the very function the route calls, so status, headers and body are the same by construction;
its errors are the route's problems, rendered by the same function. A request it cannot take
as the route would (another spelling of the guid, a query string, a root path) goes on to the
route.

Skipping the route skips its dependencies: `check_route_has_no_dependencies` refuses, at
startup, a content route that has any (an authentication dependency added to it later would
otherwise be silently bypassed here).

It sits inside every other middleware, so request ids, security and CORS headers, the access
log and the metrics apply as they do to the route.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from uuid import UUID

from anyio import to_thread
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from pixyproxy.adapters.driving.web.content.response import (
    Conditions,
    ContentDelivery,
    content_response,
)
from pixyproxy.adapters.driving.web.content.source import CachedContent
from pixyproxy.adapters.driving.web.problems import exception_problem
from pixyproxy.domain.exceptions import PixyProxyException

_HEX = "[0-9a-fA-F]"
# The canonical spelling only; the route parses every other one.
_GUID = f"({_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}})"


def check_route_has_no_dependencies(route: BaseRoute) -> None:
    """Raise `RuntimeError` when `route` resolves a dependency (`Depends`, `Security`) that
    the fast path, which answers for it, would skip."""
    if not isinstance(route, APIRoute):
        raise RuntimeError(f"the content fast path expects an APIRoute, not {route!r}")
    found = [d.call for d in route.dependant.dependencies]
    if found or route.dependencies:
        raise RuntimeError(
            f"the content route {route.path} has dependencies ({found or route.dependencies}) "
            "that the content fast path would skip; handle them in the fast path too, or "
            "drop the fast path"
        )


class ContentFastPath:
    def __init__(
        self,
        app: ASGIApp,
        *,
        source: Callable[[], CachedContent],
        delivery: ContentDelivery,
        path: str,
        routes: dict[str, BaseRoute],
    ) -> None:
        """`source`: this worker's content source (built when the app starts); `path`: the
        route's template, with `{guid}`; `routes`: the route by method."""
        for route in routes.values():
            check_route_has_no_dependencies(route)
        self.app = app
        self._path = re.compile(re.escape(path).replace(re.escape("{guid}"), _GUID))
        self._source = source
        self._delivery = delivery
        self._routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and not scope.get("root_path")
            and not scope.get("query_string")
            and (match := self._path.fullmatch(scope["path"])) is not None
        ):
            # The metrics and the access log name the route template, as for the route.
            scope["route"] = self._routes[scope["method"]]
            response = await self._answer(Request(scope, receive), UUID(match[1]))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _answer(self, request: Request, guid: UUID) -> Response:
        source = self._source()
        try:
            content = source.held(guid)
            if content is None:
                content = await to_thread.run_sync(source.content, guid)
            conditions = _conditions(request.scope)
            return await content_response(request, source, content, self._delivery, conditions)
        except PixyProxyException as e:
            return exception_problem(request, e)


def _conditions(scope: Scope) -> Conditions:
    # The first of repeated headers, as FastAPI's `Header()` parameters take it.
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in (b"if-none-match", b"range", b"if-range") and name not in found:
            found[name] = value.decode("latin-1")
    return Conditions(found.get(b"if-none-match"), found.get(b"range"), found.get(b"if-range"))
