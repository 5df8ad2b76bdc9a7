"""Throwaway containers for the tests, through testcontainers, on whatever Docker engine answers.

Two kinds of engine are met. One that has a `bridge` network publishes a container's port on
the host, as testcontainers expects. One started with `--bridge=none` (this project's CI, which
may use no private-range address) publishes nothing: there a container shares the host's network
and its server listens on 127.0.0.1 at a free port.

Every container carries `OWNER_LABEL` (`<host name>/<pid>` of the test session that started it).
A session removes its containers at its end, even when tests fail or on Ctrl-C (SIGTERM is made
to act as Ctrl-C meanwhile). A session killed outright cannot; the next one to start a container
removes every container whose owner on this host is gone. testcontainers' own reaper, Ryuk, is
not relied on: it is an image pulled from Docker Hub and reached through a published port, and a
`--bridge=none` engine offers neither, so it is turned off there.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
from collections.abc import Iterator
from typing import Any

OWNER_LABEL = "org.pixyproxy.test.owner"


def docker_engine() -> Any | None:
    """A docker-py client of the engine that answers, or None when none does."""
    try:
        import docker  # type: ignore[import-untyped]
        import requests
    except ImportError:
        return None
    try:
        client = docker.from_env(timeout=5)
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        return None
    return client


def uses_host_network(client: Any) -> bool:
    """Whether containers must share the host's network: true on an engine without a bridge
    network, which publishes no ports. Ryuk, which needs a published port, is turned off then."""
    if client.networks.list(names=["bridge"]):
        return False
    from testcontainers.core.config import testcontainers_config

    testcontainers_config.ryuk_disabled = True
    return True


def missing_image(client: Any, image: str, *, pull: bool) -> str | None:
    """None when `image` is on the engine (pulled first if `pull`), else why it is not."""
    import docker

    try:
        client.images.get(image)
        return None
    except docker.errors.ImageNotFound:
        if not pull:
            return f"image {image} is not on this Docker engine"
    try:
        client.images.pull(image)
    except docker.errors.APIError as e:
        return f"image {image} is not on this Docker engine and cannot be pulled: {e.explanation}"
    return None


def owner_labels() -> dict[str, str]:
    return {OWNER_LABEL: f"{socket.gethostname()}/{os.getpid()}"}


def remove_stale_containers(client: Any) -> None:
    """Remove the containers of test sessions on this host that ended without removing theirs."""
    import docker

    for container in client.containers.list(all=True, filters={"label": OWNER_LABEL}):
        host, _, pid = container.labels.get(OWNER_LABEL, "").rpartition("/")
        if host == socket.gethostname() and pid.isdigit() and not _alive(int(pid)):
            # Another session may be removing the same container right now.
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True, v=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Make SIGTERM act as Ctrl-C within the block, so that fixtures are torn down (and
    containers removed) when a test run is terminated. Leaves any handler already set alone."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
