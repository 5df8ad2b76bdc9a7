"""Settings refuse what cannot work, naming the variable to fix."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from pixyproxy.app.settings import Settings


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"mysql_password": "CHANGE-ME-pixyproxy-password"}, "PIXYPROXY_MYSQL_PASSWORD"),
        ({"database_url": "mysql+pymysql://u:change-me@db/pixyproxy"}, "PIXYPROXY_DATABASE_URL"),
        ({"OPENAI_API_KEY": "sk-Change-Me"}, "OPENAI_API_KEY"),
        ({"s3_bucket": "change-me", "blob_store": "s3"}, "PIXYPROXY_S3_BUCKET"),
    ],
)
def test_example_placeholders_are_refused_by_name(given: dict[str, Any], named: str) -> None:
    with pytest.raises(ValidationError, match=f"{named} still holds a CHANGE-ME placeholder"):
        Settings.model_validate(given)


def test_the_environment_is_checked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXYPROXY_MYSQL_PASSWORD", "CHANGE-ME")
    with pytest.raises(ValidationError, match="PIXYPROXY_MYSQL_PASSWORD"):
        Settings()


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"blob_store": "s3"}, "PIXYPROXY_BLOB_STORE=s3 needs PIXYPROXY_S3_BUCKET"),
        ({"content_delivery": "redirect"}, "needs PIXYPROXY_BLOB_STORE=s3"),
        ({"content_delivery": "x-accel", "blob_store": "s3", "s3_bucket": "b"}, "=local"),
        ({"generator": "openai"}, "needs OPENAI_API_KEY"),
    ],
)
def test_backends_are_refused_without_what_they_need(given: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings.model_validate(given)


def test_real_values_pass() -> None:
    settings = Settings.model_validate(
        {"mysql_host": "db", "mysql_password": "s3cret", "OPENAI_API_KEY": "sk-real"}
    )
    assert settings.effective_generator == "openai"
    assert settings.effective_database_url == (
        "mysql+pymysql://pixyproxy:s3cret@db:3306/pixyproxy?charset=utf8mb4"
    )
