"""Run `pixyproxy` as a real process, the way a user does, on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

PIXYPROXY = str(Path(sys.executable).parent / "pixyproxy")
_PORT_ATTEMPTS = 3


class _PortTaken(Exception):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ServiceProcess:
    """`pixyproxy serve` in a subprocess with its own environment and data directory."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        inherited = {
            k: v for k, v in os.environ.items() if not k.startswith(("PIXYPROXY_", "OPENAI_"))
        }
        self.env = {
            **inherited,
            "PIXYPROXY_DATABASE_URL": f"sqlite:///{data_dir / 'pixyproxy.db'}",
            "PIXYPROXY_LOCAL_DIR": str(data_dir / "images"),
            "PIXYPROXY_FIRST_KEY_FILE": str(data_dir / "first-admin-key"),
            **(env or {}),
        }
        self.process: subprocess.Popen[str] | None = None
        self._log_start = 0
        self.log_path = data_dir / "service.log"

    def cli(
        self, *args: str, check: bool = True, timeout_s: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PIXYPROXY, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=check,
        )

    def create_key(self, author: str) -> str:
        return self.cli("keys", "create", "--author", author).stdout.strip().splitlines()[-1]

    def start(self, *extra: str, ready_timeout_s: float = 30.0) -> ServiceProcess:
        """Serve and wait for `/healthz`. The free port may be taken by another program
        between `free_port()` and the bind; then try again on a new one."""
        for _ in range(_PORT_ATTEMPTS - 1):
            try:
                return self._start(extra, ready_timeout_s)
            except _PortTaken:
                self.port = free_port()
                self.base_url = f"http://127.0.0.1:{self.port}"
        return self._start(extra, ready_timeout_s)

    def _start(self, extra: tuple[str, ...], ready_timeout_s: float) -> ServiceProcess:
        self.launch(*extra)
        return self._wait_started(ready_timeout_s)

    def launch(self, *extra: str) -> None:
        """Start `pixyproxy serve` and return at once; `wait_started` waits for it."""
        self._log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("a")
        self.process = subprocess.Popen(
            [PIXYPROXY, "serve", "--port", str(self.port), *extra],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def wait_started(self, ready_timeout_s: float = 30.0) -> ServiceProcess:
        """Wait for `/healthz` of a `launch`ed service."""
        return self._wait_started(ready_timeout_s)

    def _wait_started(self, ready_timeout_s: float) -> ServiceProcess:
        assert self.process is not None
        log_start = self._log_start
        deadline = time.monotonic() + ready_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if b"address already in use" in self.log_path.read_bytes()[log_start:]:
                    raise _PortTaken
                raise RuntimeError(f"pixyproxy exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"pixyproxy did not start within {ready_timeout_s} s:\n{self.log()}")

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Block until `/readyz` answers 200 (the database and the image store answer)."""
        deadline = time.monotonic() + timeout_s
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"{self.base_url}/readyz", timeout=5)
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text}"
            except httpx.TransportError as e:
                last = repr(e)
            time.sleep(0.1)
        raise RuntimeError(f"pixyproxy not ready within {timeout_s} s ({last}):\n{self.log()}")

    def rss_bytes(self) -> int:
        """The resident memory of the `pixyproxy serve` process (with one worker, uvicorn
        serves in that same process), from /proc (Linux)."""
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
        kib = int(line.split()[1])
        return kib * 1024

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout_s: float = 30.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def kill(self) -> int:
        """SIGKILL: no shutdown, no cleanup, as a crash or the OOM killer would end it."""
        return self.stop(signal.SIGKILL)

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def __enter__(self) -> ServiceProcess:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.process is not None:
            self.stop()
