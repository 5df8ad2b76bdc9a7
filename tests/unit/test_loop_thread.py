"""LoopThread: calls run on its own loop and thread; cancellation and closing reach them."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import AsyncIterator

import pytest

from pixyproxy.adapters.driven.loop_thread import LoopThread, LoopThreadClosed

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class Stall:
    """A call that parks on the private loop until cancelled, and tells the test it did."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.cancelled = threading.Event()

    async def __call__(self) -> None:
        self.entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise

    async def wait_entered(self) -> None:
        assert await asyncio.to_thread(self.entered.wait, 10)


@pytest.fixture
async def loop_thread() -> AsyncIterator[LoopThread]:
    thread = LoopThread("test-loop-thread")
    yield thread
    await thread.aclose()


async def test_a_call_runs_on_another_thread_and_loop_and_returns_its_result(
    loop_thread: LoopThread,
) -> None:
    async def where() -> tuple[int, asyncio.AbstractEventLoop]:
        return threading.get_ident(), asyncio.get_running_loop()

    ident, loop = await loop_thread.run(where)

    assert ident != threading.get_ident()
    assert loop is not asyncio.get_running_loop()
    assert loop_thread.running


async def test_a_failing_call_raises_its_own_exception(loop_thread: LoopThread) -> None:
    async def fail() -> None:
        raise KeyError("nope")

    with pytest.raises(KeyError, match="nope"):
        await loop_thread.run(fail)


async def test_the_callers_context_variables_reach_the_call(loop_thread: LoopThread) -> None:
    async def read() -> str:
        return request_id.get()

    request_id.set("req-42")

    assert await loop_thread.run(read) == "req-42"


async def test_cancelling_the_caller_cancels_the_call_on_the_private_loop(
    loop_thread: LoopThread,
) -> None:
    stall = Stall()
    caller = asyncio.create_task(loop_thread.run(stall))
    await stall.wait_entered()

    caller.cancel()

    with pytest.raises(asyncio.CancelledError):
        await caller
    assert await asyncio.to_thread(stall.cancelled.wait, 10)


async def test_a_deadline_around_the_caller_cancels_the_call(loop_thread: LoopThread) -> None:
    stall = Stall()

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(None) as deadline:

            async def expire_once_the_call_runs() -> None:
                await stall.wait_entered()
                deadline.reschedule(asyncio.get_running_loop().time())

            watcher = asyncio.create_task(expire_once_the_call_runs())
            await loop_thread.run(stall)

    await watcher
    assert await asyncio.to_thread(stall.cancelled.wait, 10)


async def test_closing_with_calls_in_flight_fails_them_as_closed_and_stops_the_thread(
    loop_thread: LoopThread,
) -> None:
    stalls = [Stall(), Stall()]
    callers = [asyncio.create_task(loop_thread.run(s)) for s in stalls]
    for stall in stalls:
        await stall.wait_entered()
    closed_last: list[bool] = []

    async def last() -> None:
        closed_last.append(all(s.cancelled.is_set() for s in stalls))

    await loop_thread.aclose(last=last)

    for caller in callers:
        with pytest.raises(LoopThreadClosed):
            await caller
    assert closed_last == [True]  # `last` ran after the calls were cancelled
    assert not loop_thread.running


async def test_a_call_after_closing_is_refused(loop_thread: LoopThread) -> None:
    async def nothing() -> None:
        return None

    await loop_thread.run(nothing)
    await loop_thread.aclose()

    with pytest.raises(LoopThreadClosed):
        await loop_thread.run(nothing)


async def test_closing_an_unused_loop_thread_runs_last_without_starting_a_thread() -> None:
    unused = LoopThread("never-used")
    ran: list[bool] = []

    async def last() -> None:
        ran.append(True)

    await unused.aclose(last=last)
    await unused.aclose(last=last)

    assert ran == [True]
    assert not unused.running
