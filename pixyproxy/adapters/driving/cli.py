"""The `pixyproxy` command: serve, db, keys, renditions, gc. A driving adapter like the web
one."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from pixyproxy.app.rendition_backfill import BackfillProgress
from pixyproxy.app.settings import Settings
from pixyproxy.bootstrap import GC_GRACE, Container, build_container, prepare_database
from pixyproxy.domain.exceptions import PixyProxyException, SchemaMismatch

log = logging.getLogger("pixyproxy.cli")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pixyproxy", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--graceful-timeout", type=float, default=30.0, metavar="SECONDS")

    db = commands.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True
    )
    db.add_parser("upgrade", help="apply the pending schema migrations")
    db.add_parser("current", help="print the database's schema revision")
    db.add_parser("init", help="the same as upgrade (its name before migrations)")

    keys = commands.add_parser("keys", help="API keys").add_subparsers(
        dest="keys_command", required=True
    )
    create = keys.add_parser("create", help="create a key; prints it once, as the last line")
    create.add_argument("--author", required=True)
    keys.add_parser("list", help="list keys (prefixes only; keys are never stored)")
    revoke = keys.add_parser("revoke", help="revoke the keys whose prefix starts with PREFIX")
    revoke.add_argument("prefix")

    renditions = commands.add_parser("renditions", help="image renditions").add_subparsers(
        dest="renditions_command", required=True
    )
    backfill = renditions.add_parser(
        "backfill",
        help="give images made before renditions their thumbnail and placeholder "
        "(resumable: run it again after a stop)",
    )
    backfill.add_argument(
        "--concurrency", type=int, default=2, metavar="N", help="images rendered at once"
    )

    gc = commands.add_parser("gc", help="find (and with --apply delete) orphaned image bytes")
    gc.add_argument("--apply", action="store_true", help="delete the orphans found")
    gc.add_argument(
        "--grace-s",
        type=float,
        default=GC_GRACE.total_seconds(),
        metavar="SECONDS",
        help="spare orphans younger than this: their row may still be being written "
        "(default %(default).0f)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings()
    from pixyproxy.adapters.driving.web.observability import configure_logging

    configure_logging(settings.log_format, settings.log_level)
    container = build_container(settings)
    try:
        return _run(args, settings, container)
    except PixyProxyException as e:
        print(f"pixyproxy: {e.title}: {e.detail}", file=sys.stderr)
        return 1
    finally:
        container.shutdown_resources()


def _run(args: argparse.Namespace, settings: Settings, container: Container) -> int:
    if args.command == "serve":
        return _serve(args, settings, container)
    if args.command == "db":
        return _db(args.db_command, container)
    # Every other command works on the database; on a fresh one, the schema comes first.
    prepare_database(container)
    if args.command == "gc":
        return _gc(container, apply=args.apply, grace=timedelta(seconds=args.grace_s))
    if args.command == "renditions":
        return _backfill(container, concurrency=args.concurrency)
    keys = container.api_keys()
    if args.keys_command == "create":
        record, plaintext = keys.create({"author": args.author})
        print(f"created key {record.prefix} for {record.author}; it is shown once:")
        print(plaintext)
    elif args.keys_command == "list":
        print(f"{'PREFIX':<14}{'AUTHOR':<24}{'CREATED':<34}STATUS")
        for key in keys.list():
            status = "active" if key.active else f"revoked {key.revoked_at:%Y-%m-%d %H:%M}"
            print(f"{key.prefix:<14}{key.author:<24}{key.created_at.isoformat():<34}{status}")
    else:
        print(f"revoked {keys.revoke(args.prefix)} key(s)")
    return 0


def _db(command: str, container: Container) -> int:
    migrator = container.schema_migrator()
    if command == "current":
        print(f"schema revision: {migrator.status().describe()}")
        return 0
    before = migrator.upgrade()
    if before.current:
        print(f"schema already at {before.head} (head); nothing to do")
    else:
        print(f"schema upgraded from {before.describe()} to {before.head} (head)")
    return 0


def _gc(container: Container, *, apply: bool, grace: timedelta) -> int:
    report = container.garbage_collector(grace=grace).run(apply=apply)
    for key in report.orphan_blobs:
        print(f"orphan image (no row): {key}")
    for key in report.rows_without_blob:
        print(f"row without image bytes: {key}")
    for name in report.unfinished_writes:
        print(f"unfinished write: {name}")
    verb = "deleted" if apply else "found (run with --apply to delete)"
    orphans = report.deleted_blobs if apply else len(report.orphan_blobs)
    print(f"{orphans} orphan image(s) {verb}; {len(report.rows_without_blob)} row(s) without bytes")
    print(
        f"{len(report.unfinished_writes)} unfinished write(s) and "
        f"{report.expired_idempotency_keys} expired idempotency key(s) {verb}"
    )
    return 0


def _backfill(container: Container, *, concurrency: int) -> int:
    if concurrency < 1:
        print("pixyproxy: --concurrency must be at least 1", file=sys.stderr)
        return 2
    bar = _ProgressBar(sys.stderr)
    progress = container.rendition_backfill().run(concurrency, bar.show)
    bar.close()
    for reason in progress.skipped:
        print(f"skipped {reason}")
    skipped = len(progress.skipped)
    print(f"{progress.done - skipped} image(s) backfilled, {skipped} skipped")
    return 0


class _ProgressBar:
    """`[#####.....] 50/100` redrawn in place on a terminal; a line per tenth elsewhere."""

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self._stream = stream
        self._width = width
        self._tty = stream.isatty()
        self._last_tenth = -1

    def show(self, progress: BackfillProgress) -> None:
        total = max(progress.total, progress.done, 1)
        filled = self._width * progress.done // total
        line = f"[{'#' * filled}{'.' * (self._width - filled)}] {progress.done}/{progress.total}"
        if progress.skipped:
            line += f" ({len(progress.skipped)} skipped)"
        if self._tty:
            self._stream.write("\r" + line)
        elif (tenth := 10 * progress.done // total) != self._last_tenth:
            self._last_tenth = tenth
            self._stream.write(line + "\n")
        self._stream.flush()

    def close(self) -> None:
        if self._tty:
            self._stream.write("\n")


def _serve(args: argparse.Namespace, settings: Settings, container: Container) -> int:
    import uvicorn

    try:
        prepare_database(container)
        first_key = container.api_keys().ensure_first_key()
    except SchemaMismatch:
        raise  # a database that is down may come back; this one needs an operator
    except PixyProxyException as e:
        log.warning("database unavailable at start (%s); serving anyway, not ready", e.detail)
        first_key = None
    if first_key is not None:
        _hand_over_first_key(first_key, Path(settings.first_key_file))
    container.shutdown_resources()
    uvicorn.run(
        "pixyproxy.adapters.driving.web.app:create_app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=args.graceful_timeout,
        # httptools' parser with our bounds on head size, read time and connections.
        http="pixyproxy.adapters.driving.web.http_guard:GuardedHttpToolsProtocol",
        ws="none",
        timeout_keep_alive=settings.http_keepalive_timeout_s,
        # Nothing tells a prober which server this is.
        server_header=False,
    )
    return 0


def _hand_over_first_key(key: str, path: Path) -> None:
    """On a terminal, print the key. Otherwise stdout is a log stream (a container, a service
    manager) that others read and keep: write the key to a file only this user may read,
    and print where."""
    if sys.stdout.isatty():
        print("No API key existed, so one was created for author 'admin'. It is shown once:")
        print(key, flush=True)
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        os.fchmod(file.fileno(), 0o600)
        file.write(key + "\n")
    print(
        f"No API key existed, so one was created for author 'admin' and written to {path} "
        "(readable by this user only). Read it, then delete the file.",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
