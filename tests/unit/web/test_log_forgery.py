"""Nothing a caller sends can forge a log line or a terminal sequence in the text logs."""

from __future__ import annotations

import io
import logging
import re
import sys
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from pixyproxy.adapters.driving.web.observability import (
    RequestContextFilter,
    TextFormatter,
    configure_logging,
)
from tests.support.app import memory_app, memory_stack

FORGED = "\r\n2026-03-01T00:00:00+0000 INFO [abc] pixyproxy.access: end DELETE /image/x 204 1.00ms"
LINE_START = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} [A-Z]+ \[")


@pytest.fixture
def text_log() -> Iterator[io.StringIO]:
    """The root logger as `configure_logging("text", ...)` sets it up, into a string."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging("text", "DEBUG")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestContextFilter())
    handler.setFormatter(root.handlers[0].formatter)
    root.handlers[:] = [handler]
    try:
        yield stream
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])


def test_configure_logging_uses_the_escaping_formatter() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("text", "INFO")
        assert isinstance(root.handlers[0].formatter, TextFormatter)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


@pytest.mark.parametrize(
    "path",
    [
        "/nope%0D%0A" + FORGED.strip().replace(" ", "%20"),
        "/nope%0A" + FORGED.strip().replace(" ", "%20"),
        "/nope%1B%5B2J%1B%5B31mred",
        "/nope%E2%80%A8next",
        "/nope%E2%80%AEdesrever",
        "/nope%C2%85next",
    ],
)
def test_a_path_cannot_forge_a_line_or_a_terminal_sequence(
    text_log: io.StringIO, path: str
) -> None:
    with TestClient(memory_app(memory_stack())) as client:
        assert client.get(path).status_code == 404
    written = text_log.getvalue()
    lines = written.splitlines()
    assert lines, written
    for line in lines:
        assert LINE_START.match(line), line
        assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]", line)
    messages = [line.split(": ", 1)[1] for line in lines]
    assert not [m for m in messages if m.startswith("end DELETE")], messages
    assert len([m for m in messages if m.startswith("end GET")]) == 1


def test_a_traceback_cannot_start_a_line_of_its_own() -> None:
    formatter = TextFormatter("%(levelname)s %(message)s")
    try:
        raise ValueError("bad value" + FORGED)
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("a\rb",), None)
        record.exc_info = sys.exc_info()
    text = formatter.format(record)
    first, *rest = text.split("\n")
    assert first == "ERROR failed a\\rb"
    assert rest and all(line.startswith("  ") for line in rest)
    assert "\r" not in text
