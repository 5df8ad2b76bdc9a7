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
        ]
    )
    path.write_text(text)
    return text
