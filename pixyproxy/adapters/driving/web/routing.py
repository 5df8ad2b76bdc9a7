"""How every route of the API is declared, so that a new route follows the conventions by
being declared, not by remembering them.

`Endpoints.get/post/patch/delete` register a route with a readable `operationId`, its problem
responses documented (`openapi.problem_responses`), `security: []` stated on public operations,
and, for GET, a HEAD twin answered by the same function. Every route is an `ApiRoute`, which
refuses query parameters it does not declare (422 naming them, as Stripe does: `?tags=x` for
`?tag=x` must not return an unfiltered list) and bodies that are not JSON (415).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from pixyproxy.adapters.driving.web.openapi import problem_responses
from pixyproxy.domain.exceptions import FieldError, InvalidInput

Endpoint = Callable[..., Any]


def _declared_query_names(route: APIRoute) -> frozenset[str]:
    names: set[str] = set()
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        names.update(field.alias for field in dependant.query_params)
        pending += dependant.dependencies
    extra = (route.openapi_extra or {}).get("parameters", [])
    names.update(p["name"] for p in extra if p.get("in") == "query")
    return frozenset(names)


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class ApiRoute(APIRoute):
    """A FastAPI route that checks, before anything else, what FastAPI lets through."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        known = _declared_query_names(self)
        takes_json = self.body_field is not None

        async def checked(request: Request) -> Response:
            if request.scope["query_string"]:
                _refuse_unknown_parameters(request, known)
            if takes_json and not _is_json(request.headers.get("content-type")):
                raise HTTPException(
                    415,
                    "this operation takes a JSON body: send it with "
                    "'Content-Type: application/json'",
                )
            return await handler(request)

        return checked


def _refuse_unknown_parameters(request: Request, known: frozenset[str]) -> None:
    unknown = [name for name in dict.fromkeys(request.query_params.keys()) if name not in known]
    if unknown:
        takes = ", ".join(sorted(known)) or "no query parameters"
        raise InvalidInput(
            errors=[
                FieldError(
                    ("query", name), f"unknown query parameter; this operation takes: {takes}"
                )
                for name in unknown
            ]
        )


def head_operation_id(operation_id: str) -> str:
    """`getImageContent` -> `headImageContent`; `listImages` -> `headListImages`."""
    if operation_id.startswith("get"):
        return "head" + operation_id[3:]
    return "head" + operation_id[0].upper() + operation_id[1:]


class Endpoints:
    """A router for one group of operations (an OpenAPI tag)."""

    def __init__(self, tag: str) -> None:
        self.router = APIRouter(tags=[tag], route_class=ApiRoute)

    def get(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        return self.route("GET", path, **options)

    def post(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        return self.route("POST", path, **options)

    def patch(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        return self.route("PATCH", path, **options)

    def delete(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        return self.route("DELETE", path, **options)

    def route(
        self,
        method: str,
        path: str,
        *,
        operation_id: str,
        summary: str,
        problems: Iterable[int] | Mapping[int, str] = (),
        public: bool = True,
        document_head: bool = False,
        head_summary: str | None = None,
        responses: dict[int | str, dict[str, Any]] | None = None,
        openapi_extra: dict[str, Any] | None = None,
        **fastapi_options: Any,
    ) -> Callable[[Endpoint], Endpoint]:
        """Register `endpoint` for `method` (and HEAD, for GET). `problems`: the error
        statuses the operation may answer (500 is always added), with a description each
        when the general one would not do. `public`: no API key needed."""
        extra = {**(openapi_extra or {}), **({"security": []} if public else {})}
        documented = {**problem_responses(problems), **(responses or {})}

        def register(endpoint: Endpoint) -> Endpoint:
            self.router.add_api_route(
                path,
                endpoint,
                methods=[method],
                operation_id=operation_id,
                summary=summary,
                responses=documented,
                openapi_extra=extra,
                **fastapi_options,
            )
            if method == "GET":
                self.router.add_api_route(
                    path,
                    endpoint,
                    methods=["HEAD"],
                    operation_id=head_operation_id(operation_id),
                    summary=head_summary or f"{summary}: the headers alone",
                    responses=documented,
                    openapi_extra=extra,
                    include_in_schema=document_head,
                    **fastapi_options,
                )
            return endpoint

        return register


class IgnoreTrailingSlash:
    """`/image/` is `/image`: clients written for the seed's reference tests call
    `POST /image/`. Served in place, never redirected: Starlette's redirect would build an
    absolute URL from the Host header, an open redirect for a forged Host."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and len(path) > 1 and path.endswith("/"):
            scope = {**scope, "path": path.rstrip("/") or "/"}
            raw = scope.get("raw_path")
            if raw:
                scope["raw_path"] = raw.rstrip(b"/") or b"/"
        await self.app(scope, receive, send)
