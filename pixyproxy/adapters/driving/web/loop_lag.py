"""Event-loop lag: how late the loop wakes a task that asked to sleep a few milliseconds.

A blocking call on the loop (a driver, a file read, a long computation) delays every request
in the worker by as much; this histogram shows it to operators and to the benchmarks.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from prometheus_client import CollectorRegistry, Histogram

PROBE_INTERVAL_S = 0.01
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class LoopLagProbe:
    """Sleeps `interval_s` over and over and records the overshoot of each wake-up."""

    def __init__(self, registry: CollectorRegistry, interval_s: float = PROBE_INTERVAL_S) -> None:
        self._interval_s = interval_s
        self._lag = Histogram(
            "pixyproxy_event_loop_lag_seconds",
            f"How much later than asked ({interval_s * 1000:g} ms) the event loop woke a "
            "sleeping task.",
            buckets=LAG_BUCKETS,
            registry=registry,
        )

    async def _measure_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            asked_at = loop.time()
            await asyncio.sleep(self._interval_s)
            self._lag.observe(max(0.0, loop.time() - asked_at - self._interval_s))

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Measure on the running loop for as long as the block lasts."""
        task = asyncio.create_task(self._measure_forever(), name="pixyproxy-loop-lag-probe")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
