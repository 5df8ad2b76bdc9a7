"""Domain objects for tests, built with sensible defaults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from pixyproxy.domain.models import Image

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def make_image(
    n: int, *, tags: tuple[str, ...] = (), author: str = "alice", same_time: bool = False
) -> Image:
    when = T0 if same_time else T0 + timedelta(seconds=n)
    guid = uuid4()
    return Image(
        guid=guid,
        prompt=f"prompt number {n}",
        filename=f"{guid}.png",
        tags=tags,
        author=author,
        content_type="image/png",
        width=1,
        height=1,
        byte_size=3,
        model="m",
        sha256="0" * 64,
        created_at=when,
        updated_at=when,
    )
