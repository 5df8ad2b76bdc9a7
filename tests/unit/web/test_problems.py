"""Every `PixyProxyException` subclass renders as a problem with its intended status."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pixyproxy.adapters.driving.web.problems import install_problem_handlers
from pixyproxy.domain import exceptions as exc

# Written out by hand on purpose: a new exception class must be given a status here.
EXPECTED_STATUS: dict[type[exc.PixyProxyException], int] = {
    exc.PixyProxyException: 500,
    exc.InvalidInput: 422,
    exc.InvalidCursor: 422,
    exc.UnsupportedGenerationOption: 422,
    exc.IdempotencyKeyReused: 422,
    exc.UnsupportedRendition: 422,
    exc.AuthenticationRequired: 401,
    exc.InvalidApiKey: 401,
    exc.ConflictingCredentials: 400,
    exc.NotImageAuthor: 403,
    exc.NotFound: 404,
    exc.ImageNotFound: 404,
    exc.ApiKeyNotFound: 404,
    exc.Conflict: 409,
    exc.IdempotentRequestInProgress: 409,
    exc.DuplicateImage: 409,
    exc.IdempotentResultDeleted: 409,
    exc.GenerationError: 502,
    exc.ContentPolicyViolation: 422,
    exc.UpstreamRateLimited: 429,
    exc.UpstreamTimeout: 504,
    exc.UpstreamUnavailable: 502,
    exc.UpstreamBadResponse: 502,
    exc.UpstreamAuthenticationFailed: 502,
    exc.ServiceUnavailable: 503,
    exc.RepositoryUnavailable: 503,
    exc.SchemaMismatch: 503,
    exc.BlobStoreUnavailable: 503,
    exc.GenerationCapacityExhausted: 503,
    exc.RenditionCapacityExhausted: 503,
    exc.BlobNotFound: 500,
    exc.ImageTooLarge: 422,
    exc.UnreadableImage: 500,
}


def all_subclasses(root: type[exc.PixyProxyException]) -> set[type[exc.PixyProxyException]]:
    found = {root}
    for sub in root.__subclasses__():
        found |= all_subclasses(sub)
    return found


def test_every_exception_class_has_an_expected_status() -> None:
    assert all_subclasses(exc.PixyProxyException) == set(EXPECTED_STATUS)


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/raise/{name}")
    def raise_named(name: str) -> None:
        raise getattr(exc, name)("what happened", retry_after_s=2.5)

    return TestClient(app)


CLASSES = sorted(EXPECTED_STATUS, key=lambda k: k.__name__)


@pytest.mark.parametrize("klass", CLASSES, ids=[k.__name__ for k in CLASSES])
def test_exception_renders_as_problem(
    client: TestClient, klass: type[exc.PixyProxyException]
) -> None:
    response = client.get(f"/raise/{klass.__name__}")
    assert response.status_code == EXPECTED_STATUS[klass]
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["title"] == klass.title
    assert body["detail"] == "what happened"
    assert body["status"] == EXPECTED_STATUS[klass]
    assert body["instance"] == f"/raise/{klass.__name__}"
    assert body["type"].startswith("/problems/")
    assert response.headers["retry-after"] == "3"
