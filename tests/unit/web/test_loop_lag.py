"""The event-loop lag histogram, and the garbage collector kept from pausing the loop."""

from __future__ import annotations

import asyncio
import gc
import time

from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from pixyproxy.adapters.driving.web.loop_lag import LoopLagProbe
from tests.support.app import memory_app, memory_stack


def _sample(registry: CollectorRegistry, suffix: str, **labels: str) -> float:
    value = registry.get_sample_value(f"pixyproxy_event_loop_lag_seconds{suffix}", labels)
    return 0.0 if value is None else value


async def test_a_call_that_blocks_the_loop_is_recorded_as_lag() -> None:
    registry = CollectorRegistry()
    probe = LoopLagProbe(registry, interval_s=0.005)
    async with probe.running():
        await asyncio.sleep(0.05)
        time.sleep(0.12)  # what a blocking driver call on the loop would do
        await asyncio.sleep(0.05)
    observed = _sample(registry, "_count")
    within_50ms = _sample(registry, "_bucket", le="0.05")
    assert observed > 2
    assert within_50ms < observed  # the blocked wake-up landed past 50 ms


def test_the_service_exports_loop_lag() -> None:
    with TestClient(memory_app(memory_stack())) as client:
        deadline = time.monotonic() + 5
        while "pixyproxy_event_loop_lag_seconds_count 0.0" in (text := client.get("/metrics").text):
            assert time.monotonic() < deadline, "the probe never measured"
            time.sleep(0.02)
    assert 'pixyproxy_event_loop_lag_seconds_bucket{le="0.05"}' in text


def test_what_startup_built_is_frozen_while_serving_and_thawed_after() -> None:
    assert gc.get_freeze_count() == 0
    with TestClient(memory_app(memory_stack())) as client:
        client.get("/healthz")
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
