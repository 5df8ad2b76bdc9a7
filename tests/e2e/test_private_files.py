"""What `pixyproxy serve` leaves on disk and on its output is for its owner only (issue 12,
items 10 and 11)."""

from __future__ import annotations

import os
import pty
import select
import stat
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.support.service import PIXYPROXY, ServiceProcess, free_port

pytestmark = pytest.mark.e2e


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_database_folder_and_files_are_private(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    database = folder / "pixyproxy.db"
    env = {
        "PIXYPROXY_DATABASE_URL": f"sqlite:///{database}",
        "PIXYPROXY_FIRST_KEY_FILE": str(tmp_path / "key" / "first"),
    }
    with ServiceProcess(tmp_path, env) as service:
        service.start()
        key = service.create_key("alice")
        made = httpx.post(
            f"{service.base_url}/image",
            json={"prompt": "private"},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert made.status_code == 201, made.text
        assert mode(folder) == 0o700
        for name in ("pixyproxy.db", "pixyproxy.db-wal", "pixyproxy.db-shm"):
            assert mode(folder / name) == 0o600, name


def test_a_database_left_readable_by_an_older_release_is_made_private(tmp_path: Path) -> None:
    database = tmp_path / "old.db"
    env = {
        "PIXYPROXY_DATABASE_URL": f"sqlite:///{database}",
        "PIXYPROXY_FIRST_KEY_FILE": str(tmp_path / "first"),
    }
    with ServiceProcess(tmp_path, env) as service:
        service.start()
        service.stop()
        for name in ("old.db", "old.db-wal", "old.db-shm"):
            path = tmp_path / name
            if path.exists():
                path.chmod(0o644)
        service.start()
        assert mode(database) == 0o600


def test_without_a_terminal_the_first_key_goes_to_a_private_file(tmp_path: Path) -> None:
    key_file = tmp_path / "secrets" / "first-admin-key"
    with ServiceProcess(tmp_path, {"PIXYPROXY_FIRST_KEY_FILE": str(key_file)}) as service:
        service.start()
        key = key_file.read_text().strip()
        assert key.startswith("pxp_")
        assert mode(key_file) == 0o600
        assert mode(key_file.parent) == 0o700
        output = service.log()
        assert key not in output
        assert str(key_file) in output
        whoami = httpx.post(
            f"{service.base_url}/image",
            json={"prompt": "p"},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert whoami.status_code == 201
        assert whoami.json()["author"] == "admin"


def test_on_a_terminal_the_first_key_is_shown_there_and_no_file_is_written(
    tmp_path: Path,
) -> None:
    key_file = tmp_path / "first-admin-key"
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PIXYPROXY_", "OPENAI_"))},
        "PIXYPROXY_DATABASE_URL": f"sqlite:///{tmp_path / 'pixyproxy.db'}",
        "PIXYPROXY_LOCAL_DIR": str(tmp_path / "images"),
        "PIXYPROXY_FIRST_KEY_FILE": str(key_file),
    }
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [PIXYPROXY, "serve", "--port", str(port)],
        env=env,
        stdout=terminal,
        stderr=subprocess.DEVNULL,
    )
    os.close(terminal)
    shown = b""
    try:
        deadline = time.monotonic() + 30
        while b"pxp_" not in shown and time.monotonic() < deadline:
            if select.select([controller], [], [], 0.5)[0]:
                shown += os.read(controller, 4096)
    finally:
        process.terminate()
        process.wait(30)
        os.close(controller)
    assert b"It is shown once" in shown
    assert b"pxp_" in shown
    assert not key_file.exists()
