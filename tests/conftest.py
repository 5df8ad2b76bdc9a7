"""Test-suite wide rules.

`PIXYPROXY_TEST_REQUIRE` (space-separated marker names, e.g. "mysql s3 e2e") turns the skip of
any test with one of those markers into a failure, and fails the run when no test with such a
marker passed. CI sets it, so a missing MySQL server can never pass as a green run.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Generator

import pytest

# Each support module owns one real peer (database, S3 server, Images API server).
pytest_plugins: list[str] = ["tests.support.s3", "tests.support.images_api", "tests.support.mysql"]

_REQUIRED = set(os.environ.get("PIXYPROXY_TEST_REQUIRE", "").split())
_passed_by_marker: Counter[str] = Counter()


def _required_markers(item: pytest.Item) -> set[str]:
    return {m.name for m in item.iter_markers()} & _REQUIRED


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    required = _required_markers(item)
    if required and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped, but PIXYPROXY_TEST_REQUIRE demands {sorted(required)} tests"
    if report.when == "call" and report.passed:
        _passed_by_marker.update(required)
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if session.config.option.collectonly or getattr(session.config.option, "keyword", ""):
        return
    missing = sorted(m for m in _REQUIRED if _passed_by_marker[m] == 0)
    if missing:
        print(f"\nPIXYPROXY_TEST_REQUIRE: no test passed for markers {missing}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`make test-container` selects the MySQL tests by their marker: one that uses the server
    without carrying it would silently never run against the container. Only fixtures named in
    signatures can be seen here; a parameter that reaches MySQL through
    `request.getfixturevalue` carries the marker itself (`pytest.param(..., marks=...)`)."""
    unmarked = [
        item.nodeid
        for item in items
        if "mysql_server_url" in getattr(item, "fixturenames", ())
        and item.get_closest_marker("mysql") is None
    ]
    if unmarked:
        raise pytest.UsageError(f"tests that use MySQL without @pytest.mark.mysql: {unmarked}")
