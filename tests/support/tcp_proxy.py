"""A TCP proxy on loopback that a test can cut, stall and restore, to play a network failure
between pixyproxy and one of its peers (the database, S3, the Images API).

    with TcpProxy("127.0.0.1", 3306) as proxy:
        url = f"mysql+pymysql://root@127.0.0.1:{proxy.port}/db"
        proxy.cut()      # open connections drop, new ones are refused
        proxy.stall()    # connections are accepted, bytes go nowhere (a silent peer)
        proxy.restore()  # traffic flows again, on the same port

Threads, not asyncio, so that it serves synchronous and asynchronous tests alike.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from collections.abc import Callable
from types import TracebackType

_POLL_S = 0.05
_CHUNK = 65536


class TcpProxy:
    """Forwards 127.0.0.1:<port> to one upstream address until told otherwise."""

    def __init__(self, upstream_host: str, upstream_port: int, host: str = "127.0.0.1") -> None:
        self._upstream = (upstream_host, upstream_port)
        self._host = host
        self._port = 0
        self._listener: socket.socket | None = None
        self._stalled = threading.Event()
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._threads: list[threading.Thread] = []
        self._accept_thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The loopback port clients connect to; it stays the same across cut and restore."""
        return self._port

    def start(self) -> TcpProxy:
        """Listen and forward."""
        self._listen()
        return self

    def cut(self) -> None:
        """Drop every open connection and refuse new ones, as a dead host or firewall would."""
        listener, self._listener = self._listener, None
        if listener is not None:
            # Until its accept() returns, the socket would keep listening and keep the port.
            _close(listener)
            if self._accept_thread is not None:
                self._accept_thread.join(timeout=2)
        with self._lock:
            pairs, self._pairs = self._pairs, set()
        for pair in pairs:
            _close(*pair)

    def stall(self) -> None:
        """Keep accepting, but forward nothing either way: a peer that has gone silent."""
        self._stalled.set()
        if self._listener is None:
            self._listen()

    def restore(self) -> None:
        """Forward again, on the same port."""
        self._stalled.clear()
        if self._listener is None:
            self._listen()

    def close(self) -> None:
        """Stop for good."""
        self._closing.set()
        self.cut()
        for thread in self._threads:
            thread.join(timeout=2)

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self._host, self._port))
        listener.listen(64)
        listener.settimeout(_POLL_S)
        self._port = listener.getsockname()[1]
        self._listener = listener
        self._accept_thread = self._spawn(self._accept_loop, listener)

    def _spawn(self, target: Callable[..., None], *args: object) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        thread.start()
        return thread

    def _accept_loop(self, listener: socket.socket) -> None:
        while self._listener is listener and not self._closing.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed by cut()
            try:
                upstream = socket.create_connection(self._upstream, timeout=5)
            except OSError:
                client.close()
                continue
            pair = (client, upstream)
            with self._lock:
                self._pairs.add(pair)
            self._spawn(self._pipe, pair)

    def _pipe(self, pair: tuple[socket.socket, socket.socket]) -> None:
        client, upstream = pair
        peer = {client: upstream, upstream: client}
        with selectors.DefaultSelector() as selector:
            try:
                for sock in pair:
                    selector.register(sock, selectors.EVENT_READ)
                while pair in self._pairs:
                    if self._stalled.is_set():
                        # Leave the bytes in the kernel's buffers; restore() delivers them.
                        self._closing.wait(_POLL_S)
                        continue
                    ready = selector.select(_POLL_S)
                    for key, _ in ready:
                        source: socket.socket = key.fileobj  # type: ignore[assignment]
                        data = source.recv(_CHUNK)
                        if not data:
                            return
                        peer[source].sendall(data)
            except (OSError, ValueError):
                return  # one side went away, or cut() closed the sockets under us
            finally:
                with self._lock:
                    self._pairs.discard(pair)
                _close(client, upstream)


def _close(*socks: socket.socket) -> None:
    for sock in socks:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
