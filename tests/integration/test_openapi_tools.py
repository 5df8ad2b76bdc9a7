"""Third-party tools read /openapi.json without an error: openapi-spec-validator, and Redocly's
linter (fetched from the npm registry by npx, pinned here)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from pixyproxy.adapters.driving.web.app import create_app
from pixyproxy.app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
REDOCLY = "@redocly/cli@2.77.0"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    document: dict[str, Any] = create_app(Settings(generator="local")).openapi()
    return document


def test_openapi_spec_validator_accepts_the_document(spec: dict[str, Any]) -> None:
    validate(spec)


def test_redocly_lint_finds_no_error_and_no_warning(spec: dict[str, Any], tmp_path: Path) -> None:
    npx = shutil.which("npx")
    assert npx, "Node.js's npx runs Redocly's linter; install nodejs and npm"
    (tmp_path / "openapi.json").write_text(json.dumps(spec))
    linted = subprocess.run(
        [npx, "--yes", REDOCLY, "lint", "--format", "json",
         "--config", str(ROOT / "redocly.yaml"), "openapi.json"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert linted.returncode == 0, linted.stdout + linted.stderr
    report = json.loads(linted.stdout)
    assert report["version"] == REDOCLY.rsplit("@", 1)[1]
    assert report["totals"] == {"errors": 0, "warnings": 0, "ignored": 0}, report["problems"]
