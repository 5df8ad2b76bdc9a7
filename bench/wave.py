"""A wave of N concurrent POSTs from one asyncio process, over plain sockets.

A hand-rolled HTTP/1.1 client (one request per connection, `Connection: close`), so that no
client library's connection pool is what the wave measures. It reports its own CPU time, so a
run can show the client is not the bottleneck.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class WaveResult:
    wall_s: float
    client_cpu_s: float
    statuses: Counter[int]
    slowest_s: float

    @property
    def failures(self) -> int:
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)


async def _one(
    host: str, port: int, request: bytes, started: float, timeout_s: float
) -> tuple[int, float]:
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                writer.write(request)
                await writer.drain()
                answer = await reader.read()
            finally:
                writer.close()
    except (OSError, TimeoutError):
        return 0, time.perf_counter() - started
    status_line = answer.split(b"\r\n", 1)[0].split()
    status = int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else 0
    return status, time.perf_counter() - started


def build_request(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def wave(
    host: str,
    port: int,
    path: str,
    bodies: list[bytes],
    headers: dict[str, str],
    timeout_s: float = 60.0,
) -> WaveResult:
    """Send one POST per body, all at once; return when every answer is in."""
    requests = [build_request(host, port, path, body, headers) for body in bodies]
    cpu_before = time.process_time()
    started = time.perf_counter()
    answers = await asyncio.gather(*(_one(host, port, r, started, timeout_s) for r in requests))
    wall = time.perf_counter() - started
    return WaveResult(
        wall_s=wall,
        client_cpu_s=time.process_time() - cpu_before,
        statuses=Counter(status for status, _ in answers),
        slowest_s=max(seconds for _, seconds in answers),
    )
