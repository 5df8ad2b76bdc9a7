"""An asyncio event loop on a thread of its own, for a client library whose CPU-bound work
(request building, connection-pool bookkeeping, response parsing) should not delay the loop that
serves HTTP. The GIL still serialises the Python work, but the serving loop is switched back in
within the interpreter's switch interval instead of waiting behind hundreds of client callbacks.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class LoopThreadClosed(RuntimeError):
    """The loop thread was closed before or while the call ran."""


class LoopThread:
    """Runs coroutines on a private event loop in a daemon thread, started on first use.

    `run(...)` awaits the result from the caller's loop. Cancelling the caller cancels the call
    on the private loop; `aclose()` cancels the calls still running (their callers get
    `LoopThreadClosed`), runs a last coroutine there, then stops and joins the thread.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def running(self) -> bool:
        """Whether the thread is alive (it starts with the first call)."""
        return self._thread is not None and self._thread.is_alive()

    def _ensure_started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._closed:
                raise LoopThreadClosed(f"{self._name} is closed")
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()
                thread = threading.Thread(
                    target=self._serve, args=(loop, ready), name=self._name, daemon=True
                )
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    @staticmethod
    def _serve(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run `call()` on the private loop and return its result or raise its exception.

        Raises `LoopThreadClosed` when the thread is, or gets, closed first.
        """
        loop = self._ensure_started()

        async def on_private_loop() -> T:
            return await call()

        future = asyncio.run_coroutine_threadsafe(on_private_loop(), loop)
        try:
            # The wrapper's cancellation (the caller's) cancels the call on the private loop.
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            me = asyncio.current_task()
            if self._closed and (me is None or not me.cancelling()):
                raise LoopThreadClosed(f"{self._name} closed during the call") from None
            raise

    async def aclose(self, last: Callable[[], Awaitable[None]] | None = None) -> None:
        """Cancel the calls in flight, run `last()` on the private loop (e.g. to close the
        clients that live there), stop the loop and join the thread. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            if last is not None:
                await last()
            return

        async def finish() -> None:
            calls = asyncio.all_tasks() - {asyncio.current_task()}
            for task in calls:
                task.cancel()
            await asyncio.gather(*calls, return_exceptions=True)
            try:
                if last is not None:
                    await last()
            finally:
                await loop.shutdown_asyncgens()
                await loop.shutdown_default_executor()

        try:
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(finish(), loop))
        finally:
            loop.call_soon_threadsafe(loop.stop)
            await asyncio.to_thread(thread.join)
