"""The results table, printed and written to `bench/RESULTS.md` with the machine's facts."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from bench.wrk import Measurement

PACKAGES = (
    "fastapi",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "pydantic",
    "sqlalchemy",
    "pymysql",
    "openai",
    "httpx2",
    "boto3",
    "moto",
)
# What py-spy showed while wrk drove a worker, and what was changed; kept with the results.
PROFILE_NOTES = [
    "## What the profiles showed",
    "",
    "- Details (scenario 1), before: 42% of the worker in `SSLContext.load_default_certs`. The "
    "pool (10 + 10 overflow) closed every overflow connection on return, so above 10 requests "
    "in flight each request opened a MySQL connection, and pymysql builds a TLS context "
    "(~45 ms of CPU) for each. Now 20 connections, no overflow: 195 -> 349 req/s.",
    "- Then 18% in `Condition.notify`: FastAPI ran the plain-`def` dependencies that only "
    "build use cases in the threadpool, one hop each. Made `async def`: 349 -> 430 req/s.",
    "- The image and its tags were two queries (four round trips with pre-ping and rollback, "
    "the baseline three); then one LEFT JOIN: 430 -> 453 req/s. The join still gave a row per "
    "tag and cost MariaDB twice the baseline's CPU; the tags now also live in the image's row "
    "(a JSON array; `image_tags` stays the filter index): repository.get 800-920 -> 340-360 us "
    "wall per call.",
    "- The baseline ran a narrower SELECT (13 columns) than pixyproxy (19); it now runs "
    "pixyproxy's own SQL text, as the issue defines it.",
    "- The worker's GIL was ~80% busy, so Python work per request sets the rate. Counted with "
    "cProfile in-process (deterministic while other work shares the machine), 1,008 function "
    "calls a details request against the baseline's 602; now 728: routes joined to the app "
    "instead of include_router (FastAPI 0.165 re-resolves an included router per request: "
    "-134), If-None-Match read from the headers instead of a `Header()` parameter (-112), "
    "logging without caller/thread/process lookups, metric label children kept, one access "
    "line instead of two, and image reads without typed columns (SQLAlchemy matched each "
    "result column by name on every execution). What remains over the baseline is the access "
    "log line (~52 calls) and the request-id/metrics middleware (~48).",
    "- Content (scenario 3), before: every request, 304s and offload modes included, looked "
    "the image up in the database through FastAPI's dependencies and a threadpool hop, so all "
    "ran at the details rate (0.05x nginx, 304 at 0.11x). Now each worker keeps an image's "
    "immutable content facts for `PIXYPROXY_CONTENT_CACHE_TTL_S` (5 s; a delete in the worker "
    "forgets at once, other workers within the TTL), a few hot images' bytes (16 MiB), and "
    "presigned URLs while half their life remains; a fast path answers GET/HEAD content "
    "before FastAPI's routing with the route's own `content_response`, and cold lookups that "
    "arrive together share one query. 304: ~73 us of CPU a request, 30% of it uvicorn's "
    "socket write. Proxy mode was then bound by the threadpool hop for the file read "
    "(~226 us a request, 19 context switches, against ~11 us for the read): bytes in the page "
    "cache are now read on the event loop with preadv(RWF_NOWAIT), which refuses to wait for "
    "the disk (others still go to a thread): 3,787 -> 7,856 req/s. Redirect mode was bound by "
    "boto3's signing (378 us a request): reusing URLs, 80 us.",
    "- Generations (scenario 4): the OpenAI SDK and httpcore2 cost ~10 ms of CPU per "
    "generation in the worker (request building, the pool's rescans of every connection, "
    "response parsing), all on the one event loop while 256 arrive at once, so the loop lags "
    "and the wave stretches. Eight SDK clients in turn (shorter rescans) and idle connections "
    "dropped after 4 s (httpx's 5 s raced uvicorn's 5 s keep-alive; up to 39 of 256 failed): "
    "7.1 s with failures -> 2.9 s with none, against 1.2-1.7 s straight to the model.",
    "- Then (py-spy --gil, per generation): ~3.6 ms of GIL time, 1.5 ms of it the SDK on "
    "httpcore2. The SDK's own aiohttp transport costs 0.52 ms a call against httpcore2's "
    "1.19 ms (`python -m bench.sdk_wave`, the SDK alone on the same wave: 1.08x and 1.21x of "
    "direct). The SDK now runs on its own event-loop thread, so its callbacks no longer queue "
    "ahead of the serving loop's; and the worst lag of each wave was a full garbage collection "
    "walking ~150,000 startup objects (130-190 ms, nothing found): they are frozen out of it "
    "(gc.freeze) after warm-up, 8-30 ms since. Lag p99 0.25-0.5 s -> under 50 ms. What remains "
    "is ~1.8 ms of GIL time per generation: the SDK 0.5, FastAPI/uvicorn 0.35, the insert 0.3, "
    "the key lookup 0.2, plus ~30% kernel time; serialised by the GIL while 256 arrive at once, "
    "that stretches the wave by about half, where the target allows 15%. On two cores, with "
    "the SDK alone already at 1.08-1.13x, it is not reachable with the SDK in the path.",
    "- Scaling (scenario 5): two workers share the two cores with MariaDB and wrk; the "
    "baseline's own two-worker row shows what the machine allows. Reads no longer pay a "
    "ROLLBACK round trip when their connection returns to the pool (MySQL sessions "
    "autocommit; writes open START TRANSACTION themselves): 181 -> 165 us of CPU a read.",
]
_HEADER = ("scenario", "variant", "throughput", "p50", "p99", "ratio", "target", "holds")


@dataclass(frozen=True)
class Row:
    scenario: str
    variant: str
    throughput: str = ""
    p50: str = ""
    p99: str = ""
    ratio: str = ""
    target: str = ""
    holds: bool | None = None


def measured_row(scenario: str, variant: str, m: Measurement, **rest: object) -> Row:
    errors = f" ({m.errors} errors)" if m.errors else ""
    return Row(
        scenario,
        variant,
        f"{m.rps:,.0f} req/s{errors}",
        f"{m.p50_ms:.2f} ms",
        f"{m.p99_ms:.2f} ms",
        **rest,  # type: ignore[arg-type]
    )


def format_table(rows: list[Row]) -> str:
    """A Markdown table, one line per row; `holds` shows as yes / NO / blank."""
    lines = ["| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
    for r in rows:
        verdict = "" if r.holds is None else ("yes" if r.holds else "**NO**")
        cells = (r.scenario, r.variant, r.throughput, r.p50, r.p99, r.ratio, r.target, verdict)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _command_version(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return "missing"
    return (done.stdout + done.stderr).strip().splitlines()[0] if done.stdout + done.stderr else ""


def machine_facts(database_version: str) -> list[str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} -")
    return [
        f"- machine: {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}; {', '.join(versions)}",
        f"- database: {database_version}; {_command_version(['nginx', '-v'])}; "
        f"{_command_version(['wrk', '-v'])}",
    ]


def write_results(
    path: Path, rows: list[Row], facts: list[str], settings: list[str], notes: list[str]
) -> str:
    """Write the results file and return its text."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = "\n".join(
        [
            "# pixyproxy benchmark results",
            "",
            f"Last run: {when}. Written by `make bench` (`python -m bench`); see README.md,",
            "section Benchmarks, for what each scenario means.",
            "",
            *facts,
            *settings,
            "",
            format_table(rows),
            "",
            *notes,
            "",
            *PROFILE_NOTES,
            "",
        ]
    )
    path.write_text(text)
    return text
