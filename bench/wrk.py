"""`wrk` as the load generator: a Lua script walks a list of paths and reports exact
percentiles as JSON when done."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

RESULT_MARK = "BENCH_RESULT "

_SCRIPT = """
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, paths[(n %% #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%(mark)s{"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, '
    .. '"socket_errors": %%d, "bad_status": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


@dataclass(frozen=True)
class Measurement:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def write_script(work_dir: Path, name: str, paths: list[str]) -> Path:
    """A Lua script that requests `paths` round-robin."""
    paths_file = work_dir / f"{name}.paths"
    paths_file.write_text("".join(f"{p}\n" for p in paths))
    script = work_dir / f"{name}.lua"
    script.write_text(_SCRIPT % {"paths": paths_file, "mark": RESULT_MARK})
    return script


def parse_result(output: str) -> Measurement:
    """The measurement the script's `done` printed. Raises `ValueError` when it is missing."""
    for line in output.splitlines():
        if line.startswith(RESULT_MARK):
            raw = json.loads(line.removeprefix(RESULT_MARK))
            return Measurement(
                requests=raw["requests"],
                seconds=raw["duration_us"] / 1e6,
                p50_ms=raw["p50_us"] / 1000,
                p99_ms=raw["p99_us"] / 1000,
                errors=raw["socket_errors"] + raw["bad_status"],
            )
    raise ValueError(f"wrk printed no result:\n{output[-2000:]}")


def run_wrk(
    base_url: str,
    script: Path,
    *,
    seconds: float,
    connections: int,
    threads: int = 1,
    headers: dict[str, str] | None = None,
) -> Measurement:
    argv = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
    ]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    done = subprocess.run(
        [*argv, base_url], capture_output=True, text=True, timeout=seconds + 60, check=True
    )
    return parse_result(done.stdout)
