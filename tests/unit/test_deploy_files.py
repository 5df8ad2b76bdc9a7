"""The Dockerfile, compose.yaml, deploy/nginx.conf and README name only settings that exist,
and agree with one another."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from pixyproxy.app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def known_variables() -> set[str]:
    names = set()
    for name, field in Settings.model_fields.items():
        names.add(f"PIXYPROXY_{name.upper()}")
        alias = field.validation_alias
        names.update(getattr(alias, "choices", []) or [])
    return names


def mentioned(text: str) -> set[str]:
    return set(re.findall(r"\b(?:PIXYPROXY|OPENAI)_[A-Z0-9_]*[A-Z0-9]\b", text))


@pytest.mark.parametrize("path", ["Dockerfile", "compose.yaml"])
def test_deploy_files_use_real_setting_names(path: str) -> None:
    unknown = mentioned((ROOT / path).read_text()) - known_variables()
    assert unknown == set()


def test_compose_service_settings_validate_once_the_password_is_changed() -> None:
    with pytest.raises(ValidationError, match="PIXYPROXY_MYSQL_PASSWORD still holds a CHANGE-ME"):
        Settings.model_validate(compose_settings_as_shipped())
    _, settings = compose_settings()
    assert settings.blob_store == "local"
    assert settings.content_delivery == "x-accel"
    assert settings.effective_database_url.startswith("mysql+pymysql://pixyproxy:")


def test_readme_configuration_table_is_complete_and_true() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Configuration") :]
    table = table[: table.index("\n## ", 5)]
    named = set(re.findall(r"`(PIXYPROXY_[A-Z0-9_]+|OPENAI_[A-Z_]+)`", table))
    assert named - known_variables() == set()
    assert (
        known_variables() - named - {"PIXYPROXY_OPENAI_API_KEY", "PIXYPROXY_OPENAI_BASE_URL"}
        == set()
    )


def test_compose_gives_the_app_the_password_the_user_script_sets() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    password = compose["services"]["pixyproxy"]["environment"]["PIXYPROXY_MYSQL_PASSWORD"]
    assert f"IDENTIFIED BY '{password}'" in (ROOT / "sql/02_create_user.sql").read_text()
    mounted = " ".join(compose["services"]["mysql"]["volumes"])
    for script in sorted((ROOT / "sql").glob("*.sql")):
        assert f"./sql/{script.name}" in mounted


def compose_settings_as_shipped() -> dict[str, Any]:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return {
        k.removeprefix("PIXYPROXY_").lower(): v
        for k, v in compose["services"]["pixyproxy"]["environment"].items()
        if k.startswith("PIXYPROXY_")
    }


def compose_settings() -> tuple[dict[str, Any], Settings]:
    """compose.yaml and the pixyproxy settings it gives, once its password has been changed."""
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    changed = {**compose_settings_as_shipped(), "mysql_password": "a real one"}
    return compose, Settings.model_validate(changed)


def nginx_directive(config: str, name: str) -> str:
    found = re.findall(rf"^\s*{name}\s+([^;]+);", config, re.MULTILINE)
    assert len(found) == 1, (name, found)
    return str(found[0]).strip()


def nginx_size(value: str) -> int:
    units = {"k": 1024, "m": 1024 * 1024}
    return int(value[:-1]) * units[value[-1].lower()] if value[-1].isalpha() else int(value)


def test_nginx_fronts_pixyproxy_with_its_limits_and_the_x_accel_location() -> None:
    compose, settings = compose_settings()
    config = (ROOT / "deploy/nginx.conf").read_text()
    nginx = compose["services"]["nginx"]
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in nginx["volumes"]
    # Only nginx is reachable from outside.
    assert "ports" not in compose["services"]["pixyproxy"]
    for name in ("client_header_timeout", "client_body_timeout", "send_timeout"):
        assert nginx_directive(config, name).endswith("s")
    assert nginx_directive(config, "large_client_header_buffers") == "4 8k"
    assert nginx_size(nginx_directive(config, "client_max_body_size")) == settings.max_body_bytes
    assert nginx_directive(config, "limit_conn").startswith("per_client ")
    assert nginx_directive(config, "keepalive_timeout")
    # The internal location is the one pixyproxy names, over the volume it writes.
    location = re.search(r"location (\S+) \{\s*internal;\s*alias (\S+);", config)
    assert location is not None
    assert location[1] == settings.x_accel_prefix
    served = location[2].rstrip("/")
    volume = next(v for v in nginx["volumes"] if v.split(":")[1] == served)
    assert volume.endswith(":ro")
    written = compose["services"]["pixyproxy"]["volumes"]
    assert f"{volume.split(':')[0]}:{settings.local_dir}" in written
    upstream = re.search(r"upstream pixyproxy \{\s*server pixyproxy:(\d+);", config)
    assert upstream is not None and upstream[1] in compose["services"]["pixyproxy"]["expose"]


def test_nginx_accepts_the_config(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx).exists(), "nginx is installed by `make test` (apt) for this check"
    config = (
        (ROOT / "deploy/nginx.conf").read_text().replace("server pixyproxy:", "server 127.0.0.1:")
    )
    (tmp_path / "nginx.conf").write_text(config)
    checked = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
         "-g", f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
