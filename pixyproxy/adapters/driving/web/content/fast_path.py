"""GET and HEAD of an image's content, answered before FastAPI's routing.

Routing, parameter validation and dependency resolution cost more than the rest of a
revalidation (304) or an offloaded answer. This layer takes the content facts from the
worker's memory (or looks them up, as the route would) and answers with `content_response`,
the very function the route calls, so status, headers and body are the same by construction;
its errors are the route's problems, rendered by the same function. It takes the query
strings of renditions (`width=` and `format=`, each at most once, values of plain letters and
digits); a request it cannot take as the route would (another spelling of the guid, any other
query string, a root path) goes on to the route, which refuses unknown parameters.

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

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from pixyproxy.adapters.driving.web.content.response import (
    Conditions,
    ContentDelivery,
    content_answer,
)
from pixyproxy.adapters.driving.web.content.source import CachedContent
from pixyproxy.adapters.driving.web.problems import exception_problem
from pixyproxy.domain.exceptions import PixyProxyException

_HEX = "[0-9a-fA-F]"
# The canonical spelling only; the route parses every other one.
_GUID = f"({_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}})"
# `width=W`, `format=F` or both, in either order, with values that need no decoding: what the
# route reads as they are. Judging the values is the route's code's job (`content_answer`).
_RENDITION_PARAMETER = re.compile(rb"(width|format)=([0-9A-Za-z]{0,16})")
_HEADERS = frozenset((b"if-none-match", b"range", b"if-range", b"accept"))


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
            and (match := self._path.fullmatch(scope["path"])) is not None
            and (query := _rendition_query(scope.get("query_string", b""))) is not None
        ):
            # The metrics and the access log name the route template, as for the route.
            scope["route"] = self._routes[scope["method"]]
            conditions = _conditions(scope, query)
            response = await self._answer(Request(scope, receive), UUID(match[1]), conditions)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _answer(self, request: Request, guid: UUID, conditions: Conditions) -> Response:
        try:
            return await content_answer(request, self._source(), guid, self._delivery, conditions)
        except PixyProxyException as e:
            return exception_problem(request, e)


def _rendition_query(query_string: bytes) -> dict[bytes, str] | None:
    """`width` and `format` of a query string the fast path may answer (none for an empty
    one); None for any other, which the route answers."""
    found: dict[bytes, str] = {}
    if not query_string:
        return found
    for part in query_string.split(b"&", 2):
        match = _RENDITION_PARAMETER.fullmatch(part)
        if match is None or match[1] in found:
            return None
        found[match[1]] = match[2].decode("ascii")
    return found


def _conditions(scope: Scope, query: dict[bytes, str]) -> Conditions:
    # The first of repeated headers, as FastAPI's `Header()` parameters take it.
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in _HEADERS and name not in found:
            found[name] = value.decode("latin-1")
    return Conditions(
        if_none_match=found.get(b"if-none-match"),
        range=found.get(b"range"),
        if_range=found.get(b"if-range"),
        width=query.get(b"width"),
        format=query.get(b"format"),
        accept=found.get(b"accept"),
    )
