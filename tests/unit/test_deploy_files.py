"""The Dockerfile, compose.yaml and README name only settings that exist."""

from __future__ import annotations

import re
from pathlib import Path

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
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    env = {
        k.removeprefix("PIXYPROXY_").lower(): v
        for k, v in compose["services"]["pixyproxy"]["environment"].items()
        if k.startswith("PIXYPROXY_")
    }
    with pytest.raises(ValidationError, match="PIXYPROXY_MYSQL_PASSWORD still holds a CHANGE-ME"):
        Settings.model_validate(env)
    settings = Settings.model_validate({**env, "mysql_password": "a real one"})
    assert settings.blob_store == "s3"
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
