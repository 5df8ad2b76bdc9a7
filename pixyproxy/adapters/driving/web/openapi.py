"""The OpenAPI document as clients generate from it: named problem schemas per status, the
headers every answer carries, `servers`, and what FastAPI cannot know by itself."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pixyproxy.adapters.driving.web.problems import PROBLEM_MEDIA_TYPE
from pixyproxy.domain.models import GeneratorCapabilities

# Named per status, so a generated client gets one class per kind of failure to branch on.
PROBLEM_SCHEMAS: dict[int, tuple[str, str]] = {
    400: ("BadRequestProblem", "Malformed request: a body that is not JSON, or two API keys."),
    401: ("UnauthorizedProblem", "No API key, or an unknown or revoked one."),
    403: ("ForbiddenProblem", "The caller is not the image's author."),
    404: ("NotFoundProblem", "Nothing here: no image with this GUID, or no such path."),
    405: ("MethodNotAllowedProblem", "The path does not take this method; see Allow."),
    409: (
        "ConflictProblem",
        "The same Idempotency-Key is still generating, or its image was deleted.",
    ),
    413: ("PayloadTooLargeProblem", "The request body is over the limit."),
    415: ("UnsupportedMediaTypeProblem", "The body is not sent as application/json."),
    416: ("RangeNotSatisfiableProblem", "The range lies outside the image; see Content-Range."),
    422: (
        "ValidationProblem",
        "Invalid input (every error listed in `errors`), an unknown query parameter, a reused "
        "Idempotency-Key, or a prompt the image model refused.",
    ),
    429: ("RateLimitedProblem", "The image model is rate limiting us; see Retry-After."),
    500: ("InternalErrorProblem", "Unexpected error, or the image's bytes are missing."),
    502: ("BadGatewayProblem", "The image model failed or sent no image."),
    503: (
        "UnavailableProblem",
        "The database, the image store or generation capacity is unavailable; see "
        "Retry-After where known.",
    ),
    504: ("GatewayTimeoutProblem", "The image model did not answer in time."),
}


def _header(description: str, required: bool = False) -> dict[str, Any]:
    return {"description": description, "required": required, "schema": {"type": "string"}}


REQUEST_ID_HEADER = _header(
    "The request's id: yours from `X-Request-ID` when sane, else a new one. Logs name it.",
    required=True,
)
_PROBLEM_HEADERS: dict[int, dict[str, dict[str, Any]]] = {
    401: {"WWW-Authenticate": _header('`Bearer realm="pixyproxy"`', required=True)},
    405: {"Allow": _header("The methods this path takes.", required=True)},
    416: {"Content-Range": _header("`bytes */<size of the image>`", required=True)},
    429: {"Retry-After": _header("Seconds after which to try again.")},
    503: {"Retry-After": _header("Seconds after which to try again, when known.")},
}


def problem_schema_ref(status: int) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{PROBLEM_SCHEMAS[status][0]}"}


def problem_responses(
    statuses: Iterable[int] | Mapping[int, str],
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problems an operation may answer; 422 (any operation refuses
    unknown query parameters) and 500 are always among them."""
    described = statuses if isinstance(statuses, Mapping) else dict.fromkeys(statuses, "")
    return {
        status: {
            "description": described.get(status) or PROBLEM_SCHEMAS[status][1],
            "content": {PROBLEM_MEDIA_TYPE: {"schema": problem_schema_ref(status)}},
            "headers": _PROBLEM_HEADERS.get(status, {}),
        }
        for status in sorted({*described, 422, 500})
    }


_FIELD_ERROR = {
    "type": "object",
    "description": "One thing wrong with the input.",
    "required": ["loc", "msg", "type"],
    "properties": {
        "loc": {
            "type": "array",
            "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "description": 'Where: `["body", "tags", 2]`, `["query", "cursor"]`, '
            '`["header", "idempotency-key"]`.',
        },
        "msg": {"type": "string", "description": "What is wrong, for a person."},
        "type": {"type": "string", "description": "What is wrong, for a program."},
    },
}


def _problem_schema(title: str, description: str, status: int) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "type": {
            "type": "string",
            "description": "A relative URI naming the kind of problem; `GET` it for its "
            "description.",
            "examples": ["/problems/image-not-found"],
        },
        "title": {"type": "string", "description": "The kind of problem, for a person."},
        "status": {"type": "integer", "description": "The HTTP status."},
        "detail": {"type": "string", "description": "What happened this time."},
        "instance": {"type": "string", "description": "The path asked for."},
        "request_id": {"type": "string", "description": "As in the X-Request-ID header."},
        "errors": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/FieldError"},
            "description": "With 422: every error of the request.",
        },
    }
    required = ["type", "title", "status", "detail", "instance", "request_id"]
    properties["status"] = {"type": "integer", "const": status}
    if status == 422:
        required.append("errors")
    else:
        del properties["errors"]
    return {
        "title": title,
        "type": "object",
        "description": f"An RFC 9457 problem detail (`{PROBLEM_MEDIA_TYPE}`). {description}",
        "required": required,
        "properties": properties,
    }


def problem_components(statuses: Iterable[int]) -> dict[str, Any]:
    """The problem schemas of `statuses` (and what they refer to)."""
    schemas: dict[str, Any] = {"FieldError": _FIELD_ERROR}
    for status in sorted(set(statuses)):
        name, description = PROBLEM_SCHEMAS[status]
        schemas[name] = _problem_schema(name, description, status)
    return schemas


def _documented_statuses(spec: dict[str, Any]) -> set[int]:
    return {
        int(status)
        for path in spec.get("paths", {}).values()
        for operation in path.values()
        for status, response in operation.get("responses", {}).items()
        if PROBLEM_MEDIA_TYPE in response.get("content", {})
    }


def complete_openapi(spec: dict[str, Any]) -> dict[str, Any]:
    """What every operation shares, added once: the problem schemas, the request-id header
    on every answer, and a relative server (the document is served by the API it
    describes)."""
    spec["servers"] = [{"url": "/", "description": "The server that serves this document."}]
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    # FastAPI's own shape for 422s, which this API never sends (see ValidationProblem).
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas.update(problem_components(_documented_statuses(spec)))
    spec["components"].setdefault("headers", {})["X-Request-ID"] = REQUEST_ID_HEADER
    for path in spec.get("paths", {}).values():
        for operation in path.values():
            for response in operation.get("responses", {}).values():
                response.setdefault("headers", {})["X-Request-ID"] = {
                    "$ref": "#/components/headers/X-Request-ID"
                }
    return spec


def offer_generator_options(
    spec: dict[str, Any], capabilities: GeneratorCapabilities
) -> dict[str, Any]:
    """The sizes and qualities this server's model takes, as enums of the request body, so
    a generated client offers them (`GET /capabilities` tells them at run time)."""
    body = spec["components"]["schemas"]["GenerateImageBody"]["properties"]
    for name, allowed in (("size", capabilities.sizes), ("quality", capabilities.qualities)):
        body[name]["anyOf"] = [
            {"type": "string", "enum": sorted(allowed)},
            {"type": "null"},
        ]
    return spec
