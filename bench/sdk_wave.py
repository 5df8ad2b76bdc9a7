"""What the `openai` SDK alone costs for a wave of concurrent image generations.

`python -m bench.sdk_wave [--wave 256] [--waves 5] [--shards 8] [--transport aiohttp]`

Starts tests/support/images_api.py in a process of its own (answers after `--delay` s), then
sends waves of `AsyncOpenAI(...).images.generate` calls from this process and prints, per wave,
the wall time, this process's CPU seconds (user + system) and the worst event-loop lag (how
late a 10 ms sleep woke up). Each SDK wave follows a wave of the same size sent by bench/wave.py
(scenario 4's "straight to the model" client), so the ratio of the two walls is the floor under
scenario 4's ratio: nothing of pixyproxy runs here.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import subprocess
import sys
import time
from typing import Any

import httpx2
from openai import AsyncOpenAI, DefaultAioHttpClient, DefaultAsyncHttpxClient

from bench.procs import free_port
from bench.wave import wave

API_KEY = "sk-pixyproxy-test-4f2c9e"  # what tests.support.images_api accepts
LAG_PROBE_S = 0.01


def _http_client(transport: str, keepalive: int) -> httpx2.AsyncClient:
    limits = httpx2.Limits(
        max_connections=1000, max_keepalive_connections=keepalive, keepalive_expiry=4.0
    )
    if transport == "aiohttp":
        client: httpx2.AsyncClient = DefaultAioHttpClient(timeout=60, limits=limits)
        return client
    return DefaultAsyncHttpxClient(timeout=60, limits=limits)


async def _lag_probe(worst: list[float]) -> None:
    loop = asyncio.get_running_loop()
    while True:
        asked = loop.time()
        await asyncio.sleep(LAG_PROBE_S)
        worst[0] = max(worst[0], loop.time() - asked - LAG_PROBE_S)


async def _waves(o: argparse.Namespace, base_url: str) -> list[tuple[float, float, float, float]]:
    clients = [
        AsyncOpenAI(
            api_key=API_KEY,
            base_url=base_url,
            max_retries=0,
            http_client=_http_client(o.transport, o.keepalive),
        )
        for _ in range(o.shards)
    ]
    shard = itertools.cycle(clients)

    async def one(i: int) -> Any:
        images = next(shard).images
        if o.raw:
            raw = await images.with_raw_response.generate(
                model="gpt-image-2", prompt=f"wave image {i}"
            )
            return raw.http_response.json()
        return await images.generate(model="gpt-image-2", prompt=f"wave image {i}")

    host, port = base_url.removeprefix("http://").split("/")[0].split(":")
    bodies = [
        f'{{"model": "gpt-image-2", "prompt": "wave image {i}"}}'.encode() for i in range(o.wave)
    ]
    results = []
    try:
        for n in range(o.waves + 1):  # the first wave opens the connections and is not counted
            await asyncio.sleep(0.5)
            direct = await wave(
                host,
                int(port),
                "/v1/images/generations",
                bodies,
                {"Authorization": f"Bearer {API_KEY}"},
            )
            await asyncio.sleep(0.5)
            worst = [0.0]
            probe = asyncio.create_task(_lag_probe(worst))
            cpu, started = time.process_time(), time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(o.wave)))
            wall, used = time.perf_counter() - started, time.process_time() - cpu
            probe.cancel()
            if n:
                results.append((wall, used, worst[0], direct.wall_s))
                print(
                    f"  wave {n}: {wall:.2f} s ({wall / direct.wall_s:.2f}x of direct "
                    f"{direct.wall_s:.2f} s), CPU {used:.2f} s, worst lag {worst[0]:.3f} s"
                )
    finally:
        for c in clients:
            await c.close()
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--wave", type=int, default=256)
    p.add_argument("--waves", type=int, default=5)
    p.add_argument("--delay", type=float, default=1.0, help="seconds the image server waits")
    p.add_argument("--shards", type=int, default=8, help="AsyncOpenAI clients taken in turn")
    p.add_argument("--transport", choices=("httpx", "aiohttp"), default="aiohttp")
    p.add_argument("--keepalive", type=int, default=100, help="idle connections kept per client")
    p.add_argument("--raw", action="store_true", help="with_raw_response: no model parsing")
    p.add_argument("--uvloop", action="store_true", help="run on uvloop, as uvicorn does")
    o = p.parse_args(argv)
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.images_api",
            "--port",
            str(port),
            "--delay",
            str(o.delay),
        ],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().decode().strip()
        print(
            f"{o.wave} concurrent images.generate, answer after {o.delay:g} s, {o.shards} "
            f"clients, {o.transport}{', raw' if o.raw else ''}{', uvloop' if o.uvloop else ''}"
            f" ({os.cpu_count()} cores)"
        )
        if o.uvloop:
            import uvloop

            results = uvloop.run(_waves(o, base_url))
        else:
            results = asyncio.run(_waves(o, base_url))
    finally:
        server.terminate()
        server.wait(10)
    wall = statistics.median(r[0] for r in results)
    cpu = statistics.median(r[1] for r in results)
    lag = statistics.median(r[2] for r in results)
    ratio = statistics.median(r[0] / r[3] for r in results)
    print(
        f"median: wall {wall:.2f} s ({ratio:.2f}x of the direct wave), CPU {cpu:.2f} s per wave"
        f" = {cpu / o.wave * 1000:.2f} ms per generation, worst lag {lag:.3f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
