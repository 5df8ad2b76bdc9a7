"""The benchmark harness's own parts, so `make bench` cannot rot unnoticed between runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import ablations, imaging, sdk_wave
from bench.report import Row, format_table
from bench.run import cursor_after, deep_anchor, lag_p99
from bench.seed import COMMON_TAG, make_png, seed, seed_created_at, seed_guid, seed_tags
from bench.wrk import parse_result
from pixyproxy.adapters.driven.sql import SqlImageRepository, create_engine_from_url
from pixyproxy.app.cursor import decode_cursor
from pixyproxy.domain.models import ImageQuery, PageAnchor


def test_seeded_rows_read_back_newest_first_and_deep_cursors_continue_them(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    image = make_png(target_bytes=2_000)
    seed(url, 300, image, batch=70)
    engine = create_engine_from_url(url)
    try:
        images = SqlImageRepository(engine)
        first = images.list(ImageQuery(limit=3))
        assert [i.guid for i in first] == [seed_guid(299), seed_guid(298), seed_guid(297)]
        assert first[0].tags == tuple(seed_tags(299))
        assert first[0].sha256 == image.sha256 and first[0].byte_size == len(image.data)

        anchor = decode_cursor(cursor_after(40))
        assert anchor == PageAnchor(seed_created_at(40), seed_guid(40))
        after = images.list(ImageQuery(limit=2, after=anchor))
        assert [i.guid for i in after] == [seed_guid(39), seed_guid(38)]

        index, depth = deep_anchor(300, pages=10_000, tag=COMMON_TAG)
        tagged = images.list(ImageQuery(limit=300, tags=(COMMON_TAG,)))
        assert depth == len(tagged) // 50 - 1 == 2
        assert tagged[depth * 50 - 1].guid == seed_guid(index)
    finally:
        engine.dispose()


def test_wrk_results_and_the_table() -> None:
    output = (
        "Running 1s test @ http://127.0.0.1:1\n"
        'BENCH_RESULT {"requests": 500, "duration_us": 2000000, "p50_us": 1500, '
        '"p99_us": 9000, "socket_errors": 1, "bad_status": 2}\n'
    )
    measured = parse_result(output)
    assert (measured.rps, measured.p50_ms, measured.p99_ms, measured.errors) == (250, 1.5, 9, 3)
    table = format_table(
        [Row("1", "a", ratio="0.9x", target="≥ 0.8x", holds=True), Row("1", "b", holds=False)]
    ).splitlines()
    assert table[0].startswith("| scenario | variant |")
    assert table[2].endswith("| yes |") and table[3].endswith("| **NO** |")


def test_loop_lag_p99_from_histogram_scrapes() -> None:
    before = {"0.01": 10.0, "0.05": 10.0, "0.1": 10.0, "+Inf": 10.0}
    after = {"0.01": 108.0, "0.05": 109.0, "0.1": 110.0, "+Inf": 110.0}
    bound, share = lag_p99(before, after)
    assert bound == "0.05"
    assert share == 0.99


def test_the_bare_sdk_wave_runs_and_reports_its_median(capsys: pytest.CaptureFixture[str]) -> None:
    assert sdk_wave.main(["--wave", "4", "--waves", "1", "--delay", "0", "--shards", "2"]) == 0
    assert "ms per generation" in capsys.readouterr().out.splitlines()[-1]


@pytest.mark.parametrize("without", sorted(ablations.SPEEDUPS))
def test_each_ablated_app_starts_and_answers_content_requests(tmp_path: Path, without: str) -> None:
    # A process each: the ablations replace code for the whole process they run in.
    script = (
        "from fastapi.testclient import TestClient\n"
        "from bench.ablations import create_app\n"
        "import time\n"
        "with TestClient(create_app()) as client:\n"
        "    while client.get('/readyz').status_code != 200:\n"
        "        time.sleep(0.05)\n"
        "    answer = client.get('/image/00000000-0000-0000-0000-000000000001/content')\n"
        "    assert answer.status_code == 404, answer.text\n"
    )
    env = {
        **os.environ,
        "BENCH_WITHOUT": without,
        "PIXYPROXY_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "PIXYPROXY_LOCAL_DIR": str(tmp_path / "images"),
        "PIXYPROXY_GENERATOR": "local",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("eager", ["1", "0"])
def test_the_photo_app_generates_with_and_without_the_eager_thumbnail(
    tmp_path: Path, eager: str
) -> None:
    script = (
        "from fastapi.testclient import TestClient\n"
        "from bench.renditions import create_app\n"
        "import sys, time\n"
        "app = create_app()\n"
        "with TestClient(app) as client:\n"
        "    while client.get('/readyz').status_code != 200:\n"
        "        time.sleep(0.05)\n"
        "    _, key = app.state.container.api_keys().create({'author': 'bench'})\n"
        "    made = client.post('/image', json={'prompt': 'p'}, headers={'X-API-Key': key})\n"
        "    assert made.status_code == 201, made.text\n"
        "    print(made.json()['width'], made.json()['placeholder'] is not None)\n"
    )
    env = {
        **os.environ,
        "BENCH_EAGER": eager,
        "PIXYPROXY_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "PIXYPROXY_LOCAL_DIR": str(tmp_path / "images"),
        "PIXYPROXY_GENERATOR": "local",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1536", str(eager == "1")]
    stored = sorted(p.name for p in (tmp_path / "images").iterdir() if not p.name.startswith("."))
    assert len(stored) == (2 if eager == "1" else 1)


def test_the_imaging_comparison_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert imaging.main(["--calls", "1"]) == 0
    assert "of the PNG decode alone" in capsys.readouterr().out
