"""Idempotent generation: one generation per (author, key), whatever the retries."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from pixyproxy.adapters.driven.memory import ManualClock
from pixyproxy.domain.exceptions import (
    ContentPolicyViolation,
    IdempotencyKeyReused,
    IdempotentRequestInProgress,
    IdempotentResultDeleted,
    InvalidInput,
)
from tests.support.builders import make_private_images
from tests.support.fakes import ScriptedImageGenerator


async def test_a_retry_returns_the_first_image_without_generating_again() -> None:
    use_case, _, _, generator = make_private_images()
    first = await use_case.generate("alice", {"prompt": "p", "tags": ["a"]}, "key-1")
    again = await use_case.generate("alice", {"prompt": "p", "tags": ["A"]}, "key-1")
    assert again == first
    assert len(generator.calls) == 1


async def test_same_key_other_author_is_another_request() -> None:
    use_case, _, _, generator = make_private_images()
    a = await use_case.generate("alice", {"prompt": "p"}, "k")
    b = await use_case.generate("bob", {"prompt": "p"}, "k")
    assert a.guid != b.guid
    assert len(generator.calls) == 2


async def test_same_key_different_body_is_refused() -> None:
    use_case, _, _, generator = make_private_images()
    await use_case.generate("alice", {"prompt": "p"}, "k")
    with pytest.raises(IdempotencyKeyReused):
        await use_case.generate("alice", {"prompt": "q"}, "k")
    assert len(generator.calls) == 1


async def test_concurrent_duplicates_wait_for_the_first() -> None:
    use_case, _, _, generator = make_private_images(generator=ScriptedImageGenerator(0.2))
    results = await asyncio.gather(
        *(use_case.generate("alice", {"prompt": "p"}, "k") for _ in range(5))
    )
    assert len({r.guid for r in results}) == 1
    assert len(generator.calls) == 1


async def test_a_duplicate_that_waits_too_long_gets_409() -> None:
    use_case, _, _, generator = make_private_images(generator=ScriptedImageGenerator(1.5))
    first = asyncio.create_task(use_case.generate("alice", {"prompt": "p"}, "k"))
    await asyncio.sleep(0.05)
    with pytest.raises(IdempotentRequestInProgress) as caught:
        await use_case.generate("alice", {"prompt": "p"}, "k")
    assert caught.value.retry_after_s is not None
    await first
    assert len(generator.calls) == 1


async def test_a_failed_first_attempt_lets_a_retry_generate() -> None:
    use_case, _, _, generator = make_private_images()
    generator.failures.append(ContentPolicyViolation("no"))
    with pytest.raises(ContentPolicyViolation):
        await use_case.generate("alice", {"prompt": "p"}, "k")
    image = await use_case.generate("alice", {"prompt": "p"}, "k")
    assert image.prompt == "p"
    assert len(generator.calls) == 2


@pytest.mark.parametrize("key", ["", "x" * 256, "with space", "tab\t", "é"])
async def test_malformed_keys_are_invalid_input(key: str) -> None:
    use_case, _, _, generator = make_private_images()
    with pytest.raises(InvalidInput):
        await use_case.generate("alice", {"prompt": "p"}, key)
    assert generator.calls == []


async def test_keys_expire_after_a_day() -> None:
    clock = ManualClock()
    use_case, *_ = make_private_images(clock=clock)
    first = await use_case.generate("alice", {"prompt": "p"}, "k")
    clock.advance(timedelta(hours=24, seconds=1))
    second = await use_case.generate("alice", {"prompt": "p"}, "k")
    assert first.guid != second.guid


async def test_a_retry_after_the_image_was_deleted_is_a_conflict_not_a_new_image() -> None:
    use_case, _, _, generator = make_private_images()
    first = await use_case.generate("alice", {"prompt": "p"}, "k")
    use_case.delete("alice", first.guid)
    with pytest.raises(IdempotentResultDeleted, match="new key"):
        await use_case.generate("alice", {"prompt": "p"}, "k")
    assert len(generator.calls) == 1
