"""What `create_engine_from_url` promises before any repository runs on it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from pixyproxy.adapters.sql import SqlImageRepository, create_engine_from_url, init_schema
from pixyproxy.domain.models import ImageQuery
from tests.integration.test_sql_image_repository_contract import make_image

SECRET = "hunter2-do-not-print"


def test_a_sqlite_file_gets_its_directory_and_a_configured_connection(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "there" / "pixyproxy.db"
    engine = create_engine_from_url(f"sqlite:///{path}", connect_timeout_s=2.5)

    with engine.connect() as connection:
        pragma = {
            name: connection.exec_driver_sql(f"PRAGMA {name}").scalar_one()
            for name in ("journal_mode", "foreign_keys", "busy_timeout")
        }
    engine.dispose()

    assert path.is_file()
    assert pragma == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 2500}


def test_sqlite_serves_a_threadpool_writing_at_once(tmp_path: Path) -> None:
    engine = create_engine_from_url(f"sqlite:///{tmp_path}/pixyproxy.db", pool_size=3)
    init_schema(engine)
    repo = SqlImageRepository(engine)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(10):
                image = repo.add(make_image(tags=("busy",)))
                repo.get(image.guid)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len(repo.list(ImageQuery(limit=100, tags=("busy",)))) == 60
    engine.dispose()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_sqlite_database_is_refused(url: str) -> None:
    # Every pooled connection would see its own empty database.
    with pytest.raises(ValueError, match="in-memory"):
        create_engine_from_url(url)


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://app:{SECRET}@db.internal/pixyproxy",
        f"mysql://app:{SECRET}@db.internal/pixyproxy",
        f"mysql+mysqldb://app:{SECRET}@db.internal/pixyproxy",
        f"mysql+pymysql://app:{SECRET}@db.internal:3306",
        f"not a url, but it holds {SECRET}",
    ],
)
def test_an_unusable_url_is_refused_without_repeating_the_password(url: str) -> None:
    with pytest.raises(ValueError) as info:
        create_engine_from_url(url)

    assert SECRET not in str(info.value)


def test_the_engine_never_shows_the_password() -> None:
    engine = create_engine_from_url(f"mysql+pymysql://app:{SECRET}@127.0.0.1:1/pixyproxy")

    assert SECRET not in repr(engine)
    assert SECRET not in str(engine.url)
