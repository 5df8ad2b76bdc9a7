"""The container hands every thread the same long-lived objects, however many ask at once."""

from __future__ import annotations

import threading
from pathlib import Path

from pixyproxy.app.private_images import PrivateImages
from pixyproxy.app.settings import Settings
from pixyproxy.bootstrap import build_container

THREADS = 16
# One trial shows the race about half the time; thirty leave it nowhere to hide.
TRIALS = 30


def _resolve_at_once(settings: Settings) -> tuple[list[PrivateImages], list[BaseException]]:
    container = build_container(settings)
    barrier = threading.Barrier(THREADS)
    built: list[PrivateImages] = []
    errors: list[BaseException] = []

    def resolve() -> None:
        barrier.wait()
        try:
            built.append(container.private_images())
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=resolve) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    container.shutdown_resources()
    return built, errors


def test_first_requests_racing_for_the_use_cases_share_one_of_each_singleton(
    tmp_path: Path,
) -> None:
    for trial in range(TRIALS):
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / f'{trial}.db'}",
            local_dir=str(tmp_path / f"images-{trial}"),
            generator="local",
        )
        built, errors = _resolve_at_once(settings)
        assert errors == []
        # Two generation gates would each admit the full concurrency; two metrics objects
        # would collide in the registry.
        assert len({id(images._gate) for images in built}) == 1
        assert len({id(images._metrics) for images in built}) == 1
        assert len({id(images._images) for images in built}) == 1
