"""Slow and oversized clients against a real `pixyproxy serve` on loopback (issue 12, item 1):
a bounded number of them cannot grow the worker's memory or file handles without bound, each is
cut off with the right status, and `/healthz` stays fast meanwhile."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.service import ServiceProcess

pytestmark = pytest.mark.e2e

HEADER_TIMEOUT_S = 2.0
BODY_TIMEOUT_S = 2.0
MAX_CONNECTIONS = 100
MAX_HEADER_BYTES = 16 * 1024


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    env = {
        "PIXYPROXY_HTTP_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
        "PIXYPROXY_HTTP_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
        "PIXYPROXY_HTTP_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
        "PIXYPROXY_HTTP_MAX_HEADER_BYTES": str(MAX_HEADER_BYTES),
    }
    with ServiceProcess(tmp_path_factory.mktemp("slow"), env) as running:
        running.start()
        yield running


def open_files(service: ServiceProcess) -> int:
    assert service.process is not None
    return len(os.listdir(f"/proc/{service.process.pid}/fd"))


async def status_line(reader: asyncio.StreamReader, timeout_s: float) -> str:
    """The status line the server sends before it closes, or '' if it closes without one."""
    line = await asyncio.wait_for(reader.readline(), timeout_s)
    await asyncio.wait_for(reader.read(), timeout_s)  # then the server closes
    return line.decode().strip()


async def oversized_header(port: int) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    try:
        for _ in range(64):  # 4 MiB, if nobody stops it
            writer.write(b"X-Filler: " + b"a" * 65536 + b"\r\n")
            await writer.drain()
    except ConnectionError:
        pass
    try:
        return await status_line(reader, 10)
    finally:
        writer.close()


async def slow_header(port: int) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
    try:
        for byte in request:
            if reader.at_eof() or writer.is_closing():
                break
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.2)
            if reader._buffer:  # type: ignore[attr-defined]  # the server has answered
                break
    except ConnectionError:
        pass
    try:
        return await status_line(reader, 10)
    finally:
        writer.close()


async def slow_body(port: int, key: str) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /image HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {key}\r\nContent-Length: 1000\r\n\r\n".encode()
    )
    try:
        for _ in range(100):
            writer.write(b" ")
            await writer.drain()
            await asyncio.sleep(0.2)
            if reader._buffer or reader.at_eof():  # type: ignore[attr-defined]
                break
    except ConnectionError:
        pass
    try:
        return await status_line(reader, 10)
    finally:
        writer.close()


async def files_drop_to(service: ServiceProcess, bound: int) -> bool:
    """Closed connections leave the server's table within a moment (a refused one lingers)."""
    for _ in range(50):
        if open_files(service) <= bound:
            return True
        await asyncio.sleep(0.1)
    return False


async def health_latencies(base_url: str, until: asyncio.Event) -> list[float]:
    latencies = []
    async with httpx.AsyncClient(base_url=base_url) as client:
        while not until.is_set():
            started = time.perf_counter()
            response = await client.get("/healthz", timeout=5)
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 200
            await asyncio.sleep(0.1)
    return latencies


async def test_slow_and_oversized_clients_are_cut_off_and_health_stays_fast(
    service: ServiceProcess,
) -> None:
    key = service.create_key("alice")
    files_before, rss_before = open_files(service), service.rss_bytes()
    done = asyncio.Event()
    health = asyncio.create_task(health_latencies(service.base_url, done))
    attackers = (
        [oversized_header(service.port) for _ in range(30)]
        + [slow_header(service.port) for _ in range(20)]
        + [slow_body(service.port, key) for _ in range(5)]
    )
    started = time.monotonic()
    statuses = await asyncio.gather(*attackers)
    elapsed = time.monotonic() - started
    done.set()
    latencies = await health

    assert statuses[:30] == ["HTTP/1.1 431 Request header fields too large"] * 30
    assert statuses[30:] == ["HTTP/1.1 408 Request timeout"] * 25
    assert elapsed < HEADER_TIMEOUT_S + BODY_TIMEOUT_S + 5
    assert latencies and max(latencies) < 1.0, latencies
    # 30 heads of up to 4 MiB each, had they been kept, would be 120 MiB.
    assert service.rss_bytes() - rss_before < 30 * 1024 * 1024
    assert await files_drop_to(service, files_before + 5)


async def test_connections_past_the_limit_are_refused_at_once_and_idle_ones_expire(
    service: ServiceProcess,
) -> None:
    files_before = open_files(service)
    opened = [await asyncio.open_connection("127.0.0.1", service.port) for _ in range(150)]
    await asyncio.sleep(0.5)
    refused = 0
    for reader, _ in opened:
        if reader._buffer.startswith(b"HTTP/1.1 503"):  # type: ignore[attr-defined]
            refused += 1
    assert refused >= 150 - MAX_CONNECTIONS
    assert open_files(service) <= files_before + MAX_CONNECTIONS + 5

    # Each idle connection is closed, with a 408, once the head timeout passes.
    await asyncio.sleep(HEADER_TIMEOUT_S + 1)
    answers = [await status_line(reader, 5) for reader, _ in opened]
    assert answers.count("HTTP/1.1 408 Request timeout") == 150 - refused
    for _, writer in opened:
        writer.close()
    assert await files_drop_to(service, files_before + 5)
    assert httpx.get(f"{service.base_url}/healthz").status_code == 200


def test_the_answers_carry_no_server_header(service: ServiceProcess) -> None:
    response = httpx.get(f"{service.base_url}/healthz")
    assert "server" not in response.headers


async def test_a_request_the_parser_cannot_read_gets_a_problem_too(service: ServiceProcess) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 Malformed request")
    assert b"content-type: application/problem+json" in head
    assert json.loads(body)["type"] == "/problems/malformed-request"
