"""Processes the benchmark starts, and what /proc says about them.

Every process is started in a session of its own and stopped by its id (SIGTERM to its
group, then SIGKILL), in reverse order, however the run ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import httpx

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Procs:
    """The processes of one run. Use as a context manager: leaving it stops them all."""

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        self._started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(
        self, name: str, argv: list[str], env: dict[str, str], cwd: Path | None = None
    ) -> subprocess.Popen[bytes]:
        log = (self._log_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self._started.append((name, process))
        return process

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self._log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def wait_http(self, name: str, url: str, timeout_s: float = 60.0) -> None:
        """Return once `url` answers anything but a connection error."""
        process = dict(self._started)[name]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited early:\n{self.log_tail(name)}")
            with contextlib.suppress(httpx.TransportError):
                httpx.get(url, timeout=1)
                return
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not answer {url} in {timeout_s} s:\n{self.log_tail(name)}")

    def stop_named(self, name: str) -> None:
        """Stop the process started as `name`."""
        self.stop(dict(self._started)[name])

    def stop(self, process: subprocess.Popen[bytes], timeout_s: float = 15.0) -> None:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self._started = [(n, p) for n, p in self._started if p is not process]

    def __enter__(self) -> Procs:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for _, process in reversed(self._started):
            self.stop(process)


def children(pid: int) -> list[int]:
    """The direct children of `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    found.append(int(entry.name))
    return found


def peak_rss_mb(pid: int) -> float:
    """The most resident memory `pid` has used so far (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time `pid` has used so far, its threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
