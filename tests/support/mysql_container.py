"""A throwaway MySQL-protocol server in a Docker container, started through testcontainers.

The image is `PIXYPROXY_TEST_MYSQL_IMAGE`, by default the official `mysql:8.4` (pulled when the
engine lacks it). Where no registry answers, `tests/containers/build-mariadb-image.sh` builds
`pixyproxy-test-mariadb:local` from Debian's packages. Both, like the official `mariadb` image,
take root's password from `MYSQL_ROOT_PASSWORD` (root may then log in over TCP) and hand their
command's arguments to the server, so one recipe starts any of them. The data live on a tmpfs:
nothing to keep, and no volume left behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pymysql
import pytest
import sqlalchemy as sa
from testcontainers.core.container import DockerContainer

from tests.support.containers import (
    missing_image,
    owner_labels,
    remove_stale_containers,
    sigterm_as_interrupt,
    uses_host_network,
)
from tests.support.service import free_port

IMAGE_VARIABLE = "PIXYPROXY_TEST_MYSQL_IMAGE"
DEFAULT_IMAGE = "mysql:8.4"
LOCAL_IMAGE = "pixyproxy-test-mariadb:local"
SERVER_PORT = 3306  # inside the container, where the engine publishes ports
# MySQL 8 initialises its data directory before it listens; on a loaded machine that takes a
# minute. MariaDB's takes a few seconds.
_READY_TIMEOUT_S = 180.0
_START_ATTEMPTS = 3
# The X protocol's listener (MySQL only: `loose-` makes MariaDB ignore it) would take port 33060
# on the host's network, where two test sessions would contend for it.
_NO_X_PROTOCOL = "--loose-mysqlx=OFF"


class _ContainerFailed(Exception):
    pass


@contextlib.contextmanager
def throwaway_mysql_server(client: Any) -> Iterator[sa.URL]:
    """Start a server on the engine `client` talks to; yield root's URL (no database); remove
    the container at the end, however the block ends. Fails the test run when it cannot."""
    image = os.environ.get(IMAGE_VARIABLE) or DEFAULT_IMAGE
    problem = missing_image(client, image, pull=True)
    if problem:
        pytest.fail(
            f"no MySQL container: {problem}. Set {IMAGE_VARIABLE} to an image this engine has, "
            f"e.g. {LOCAL_IMAGE} built by `bash tests/containers/build-mariadb-image.sh`, "
            "or run `make test-container`, which does both",
            pytrace=False,
        )
    remove_stale_containers(client)
    host_network = uses_host_network(client)
    with sigterm_as_interrupt():
        try:
            container, url = _start(image, host_network)
        except _ContainerFailed as e:
            pytest.fail(f"no MySQL container: {e}", pytrace=False)
        try:
            yield url
        finally:
            container.stop()


class _PortTaken(Exception):
    pass


def _start(image: str, host_network: bool) -> tuple[DockerContainer, sa.URL]:
    """The free port may be taken by another program before the server binds it; then try
    again on a new one."""
    for _ in range(_START_ATTEMPTS - 1):
        with contextlib.suppress(_PortTaken):
            return _start_once(image, host_network)
    try:
        return _start_once(image, host_network)
    except _PortTaken:
        raise _ContainerFailed(f"{image}: each free port was taken before it bound it") from None


def _start_once(image: str, host_network: bool) -> tuple[DockerContainer, sa.URL]:
    password = secrets.token_hex(16)
    container = DockerContainer(image).with_env("MYSQL_ROOT_PASSWORD", password)
    container.with_tmpfs_mount("/var/lib/mysql")
    if host_network:
        port = free_port()
        container.with_command([f"--port={port}", "--bind-address=127.0.0.1", _NO_X_PROTOCOL])
        container.with_kwargs(labels=owner_labels(), network_mode="host")
    else:
        # Within the container's own network; the engine publishes the port on the host.
        container.with_command(["--bind-address=0.0.0.0", _NO_X_PROTOCOL])
        container.with_exposed_ports(SERVER_PORT).with_kwargs(labels=owner_labels())
    try:
        container.start()
        if host_network:
            host = "127.0.0.1"
        else:
            host, port = container.get_container_host_ip(), container.get_exposed_port(SERVER_PORT)
        url = sa.URL.create(
            "mysql+pymysql", username="root", password=password, host=host, port=port
        )
        _wait_until_ready(container, url)
    except BaseException:  # a failure, or Ctrl-C while it starts: leave nothing behind
        container.stop()
        raise
    return container, url


def _wait_until_ready(container: DockerContainer, url: sa.URL) -> None:
    """Until root can log in over TCP: an official image's first, socket-only server (which
    initialises the data) never answers there."""
    deadline = time.monotonic() + _READY_TIMEOUT_S
    wrapped = container.get_wrapped_container()
    while True:
        try:
            pymysql.connect(
                host=url.host,
                port=url.port,
                user=url.username,
                password=url.password,
                connect_timeout=2,
                read_timeout=2,
            ).close()
            return
        except pymysql.err.OperationalError as e:
            last_error = e
        wrapped.reload()
        if wrapped.status in ("exited", "dead"):
            logs = wrapped.logs(tail=20).decode(errors="replace")
            if "Address already in use" in logs:
                raise _PortTaken
            raise _ContainerFailed(f"{container.image} exited before it answered:\n{logs}")
        if time.monotonic() > deadline:
            logs = wrapped.logs(tail=20).decode(errors="replace")
            raise _ContainerFailed(
                f"{container.image} did not answer within {_READY_TIMEOUT_S:.0f} s "
                f"({last_error}):\n{logs}"
            )
        time.sleep(0.25)
