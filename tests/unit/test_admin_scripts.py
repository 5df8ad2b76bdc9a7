"""The administrators' scripts in sql/ are what `make sql` renders from the migrations."""

from __future__ import annotations

from pathlib import Path

from pixyproxy.adapters.driven.sql.admin_scripts import GENERATED, render, write
from pixyproxy.adapters.driven.sql.schema_migrator import head_revision

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def _committed() -> dict[str, str]:
    return {
        path.relative_to(SQL_DIR).as_posix(): path.read_text()
        for path in sorted(SQL_DIR.rglob("*"))
        if path.is_file()
    }


def test_the_committed_scripts_are_what_make_sql_renders() -> None:
    rendered = render()
    stale = {name for name, text in _committed().items() if rendered.get(name) != text}
    assert stale == set(), f"sql/ is out of date in {sorted(stale)}: run `make sql`"
    assert set(_committed()) == set(rendered)


def test_every_script_says_it_is_generated_and_the_upgrades_reach_the_head() -> None:
    rendered = render()
    assert all(text.startswith(GENERATED) for text in rendered.values())
    assert f"'{head_revision()}'" in rendered["03_create_tables.sql"].splitlines()[-1]
    upgrades = sorted(name for name in rendered if name.startswith("upgrade/0"))
    assert upgrades[-1].endswith(f"-{head_revision()}.sql")


def test_make_sql_removes_the_upgrade_scripts_of_revisions_that_are_gone(tmp_path: Path) -> None:
    (tmp_path / "upgrade").mkdir()
    (tmp_path / "upgrade" / "0001-0099.sql").write_text("-- a revision since removed\n")
    (tmp_path / "notes.txt").write_text("not ours\n")

    written = write(tmp_path)

    on_disk = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert on_disk == {p.relative_to(tmp_path).as_posix() for p in written} | {"notes.txt"}
