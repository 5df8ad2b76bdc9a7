"""What client generators read in /openapi.json (issue 12, "Found by generating clients")."""

from __future__ import annotations

from typing import Any

import pytest

from pixyproxy.adapters.driving.web.problems import problem_types
from pixyproxy.domain.values import MAX_TAGS, TAG_INPUT_PATTERN
from tests.unit.web.conftest import Api

OPERATION_IDS = {
    ("post", "/image"): "generateImage",
    ("get", "/image"): "listImages",
    ("get", "/image/{guid}"): "getImage",
    ("patch", "/image/{guid}"): "retagImage",
    ("delete", "/image/{guid}"): "deleteImage",
    ("get", "/image/{guid}/content"): "getImageContent",
    ("head", "/image/{guid}/content"): "headImageContent",
    ("get", "/healthz"): "getHealth",
    ("get", "/readyz"): "getReadiness",
    ("get", "/metrics"): "getMetrics",
    ("get", "/capabilities"): "getCapabilities",
    ("get", "/problems/{slug}"): "getProblemType",
}
PRIVATE = {"generateImage", "retagImage", "deleteImage"}


@pytest.fixture
def spec(api: Api) -> dict[str, Any]:
    document: dict[str, Any] = api.client.get("/openapi.json").json()
    return document


def operations(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {op["operationId"]: op for path in spec["paths"].values() for op in path.values()}


def test_operation_ids_are_readable(spec: dict[str, Any]) -> None:
    found = {
        (method, path): op["operationId"]
        for path, methods in spec["paths"].items()
        for method, op in methods.items()
    }
    assert found == OPERATION_IDS


def test_security_is_explicit_on_every_operation(spec: dict[str, Any]) -> None:
    for operation_id, op in operations(spec).items():
        if operation_id in PRIVATE:
            assert op["security"] == [{"HTTPBearer": []}, {"APIKeyHeader": []}], operation_id
        else:
            assert op["security"] == [], operation_id


def test_servers_and_an_example_per_operation(spec: dict[str, Any]) -> None:
    assert spec["servers"] == [{"url": "/", "description": spec["servers"][0]["description"]}]
    for operation_id, op in operations(spec).items():
        examples = [
            media
            for status, response in op["responses"].items()
            if status.startswith("2")
            for media in response.get("content", {}).values()
            if "example" in media or "examples" in media
        ]
        body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
        binary = operation_id in ("getImageContent", "headImageContent")
        no_content = all(
            "content" not in r for s, r in op["responses"].items() if s.startswith("2")
        )
        assert examples or binary or no_content, operation_id
        if op.get("requestBody"):
            assert "example" in body, operation_id


def test_content_responses_are_binary_for_every_image_type(spec: dict[str, Any]) -> None:
    for operation_id in ("getImageContent", "headImageContent"):
        responses = operations(spec)[operation_id]["responses"]
        for status in ("200", "206"):
            content = responses[status]["content"]
            assert set(content) == {"image/png", "image/jpeg", "image/webp", "image/avif"}
            for media in content.values():
                assert media["schema"] == {"type": "string", "format": "binary"}
        assert responses["206"]["headers"]["Content-Range"]["required"] is True
        assert "Content-Range" in responses["416"]["headers"]


def test_the_headers_clients_rely_on_are_documented(spec: dict[str, Any]) -> None:
    ops = operations(spec)
    assert "ETag" in ops["getImage"]["responses"]["200"]["headers"]
    assert {"ETag", "Location"} <= set(ops["generateImage"]["responses"]["201"]["headers"])
    assert "Location" in ops["getImageContent"]["responses"]["307"]["headers"]
    assert "Link" in ops["listImages"]["responses"]["200"]["headers"]
    assert "Retry-After" in ops["generateImage"]["responses"]["429"]["headers"]
    assert "Retry-After" in ops["generateImage"]["responses"]["503"]["headers"]
    for operation_id, op in ops.items():
        for status, response in op["responses"].items():
            reference = response["headers"]["X-Request-ID"]
            assert reference == {"$ref": "#/components/headers/X-Request-ID"}, (
                operation_id,
                status,
            )


def test_problems_have_named_schemas_per_status_with_errors_on_422(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    for operation_id, op in operations(spec).items():
        for status, response in op["responses"].items():
            if int(status) < 400:
                continue
            (media,) = response["content"]
            assert media == "application/problem+json", (operation_id, status)
            name = response["content"][media]["schema"]["$ref"].rsplit("/", 1)[1]
            assert name.endswith("Problem")
            assert schemas[name]["properties"]["status"]["const"] == int(status)
        assert "422" in op["responses"], operation_id  # unknown query parameters, at least
    validation = schemas["ValidationProblem"]
    assert "errors" in validation["required"]
    assert validation["properties"]["errors"]["items"] == {
        "$ref": "#/components/schemas/FieldError"
    }
    assert "HTTPValidationError" not in schemas


def test_generation_options_and_tag_rules_are_in_the_schema(api: Api, spec: dict[str, Any]) -> None:
    body = spec["components"]["schemas"]["GenerateImageBody"]["properties"]
    capabilities = api.client.get("/capabilities").json()
    assert body["size"]["anyOf"][0]["enum"] == capabilities["sizes"]
    assert body["quality"]["anyOf"][0]["enum"] == capabilities["qualities"]
    assert body["tags"]["maxItems"] == MAX_TAGS == capabilities["tags"]["max_items"]
    assert body["tags"]["items"]["pattern"] == TAG_INPUT_PATTERN
    assert "pattern" in body["prompt"] and body["prompt"]["allOf"]
    detail = spec["components"]["schemas"]["ImageDetail"]
    assert "content_url" in detail["required"]


def test_every_problem_type_resolves(api: Api) -> None:
    for slug, kind in problem_types().items():
        response = api.client.get(kind.uri)
        assert response.status_code == 200, slug
        assert response.json() == {
            "type": f"/problems/{slug}",
            "title": kind.title,
            "status": kind.status,
            "description": kind.description,
        }
        assert kind.description


def test_docs_pages_load_nothing_from_elsewhere(api: Api) -> None:
    for path in ("/docs", "/redoc"):
        page = api.client.get(path)
        assert page.status_code == 200
        assert "http://" not in page.text and "https://" not in page.text, path
        assert "default-src 'self'" in page.headers["content-security-policy"]
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        assert api.client.get(f"/docs/assets/{asset}").status_code == 200
