"""Generation, retagging and deletion over in-memory adapters: what ends up stored."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from uuid import UUID

import pytest

from pixyproxy.adapters.driven.memory import MemoryImageRepository
from pixyproxy.app.generation_gate import GenerationGate
from pixyproxy.domain.exceptions import (
    BlobStoreUnavailable,
    ContentPolicyViolation,
    GenerationCapacityExhausted,
    ImageNotFound,
    InvalidInput,
    NotImageAuthor,
    RepositoryUnavailable,
    UnsupportedGenerationOption,
)
from pixyproxy.domain.models import Image, ImageQuery
from pixyproxy.domain.renditions import Rendition
from tests.support.builders import make_private_images
from tests.support.fakes import TINY_PNG, ScriptedImageGenerator, holds


class FailingInsertRepository(MemoryImageRepository):
    def add(self, image: Image, renditions: Sequence[Rendition] = ()) -> Image:
        raise RepositoryUnavailable("injected insert failure")


async def test_generate_stores_row_and_bytes_with_normalised_input() -> None:
    use_case, images, blobs, generator = make_private_images()

    image = await use_case.generate(
        "alice", {"prompt": "  a red fox  ", "tags": ["Fox", "animals", "fox"]}
    )

    assert image.prompt == "a red fox"
    assert image.tags == ("fox", "animals")
    assert image.author == "alice"
    assert image.filename == f"{image.guid}.png"
    assert (image.content_type, image.width, image.height) == ("image/png", 1, 1)
    assert image.byte_size == len(TINY_PNG)
    assert image.sha256 == hashlib.sha256(TINY_PNG).hexdigest()
    assert image.created_at == image.updated_at
    assert image.created_at.tzinfo is not None
    assert images.get(image.guid) == image
    assert blobs.get(image.blob_key) == TINY_PNG
    assert [c.prompt for c in generator.calls] == ["a red fox"]


@pytest.mark.parametrize(
    "body",
    [
        {"prompt": ""},
        {"prompt": "   "},
        {"prompt": "x" * 4001},
        {"prompt": "ok", "tags": ["no spaces"]},
        {"prompt": "ok", "tags": ["-leading-dash"]},
        {"prompt": "ok", "tags": ["x" * 33]},
        {"prompt": "ok", "tags": [f"t{i}" for i in range(17)]},
        # The limit is on what is sent, so that the schema's maxItems is the whole rule.
        {"prompt": "ok", "tags": [f"t{i}" for i in range(16)] + ["T0"]},
        {"prompt": "ok", "tags": [" padded"]},
        {"prompt": "\u200b\u200f \u2066"},
        {"prompt": "bell\x07"},
        {"prompt": "ok", "unknown": 1},
    ],
)
async def test_generate_refuses_bad_input_before_calling_the_model(body: dict[str, object]) -> None:
    use_case, images, _, generator = make_private_images()
    with pytest.raises(InvalidInput):
        await use_case.generate("alice", body)
    assert generator.calls == []
    assert images.list(ImageQuery(limit=10)) == []


async def test_generate_accepts_exactly_the_limits() -> None:
    use_case, *_ = make_private_images()
    image = await use_case.generate(
        "alice", {"prompt": " \n" + "x" * 4000 + "\u3000 ", "tags": [f"t{i}" for i in range(16)]}
    )
    assert image.prompt == "x" * 4000
    assert len(image.tags) == 16
    merged = await use_case.generate("alice", {"prompt": "p", "tags": ["Sea", "sea", "SKY"]})
    assert merged.tags == ("sea", "sky")


async def test_generate_refuses_options_the_model_does_not_take() -> None:
    use_case, _, _, generator = make_private_images()
    with pytest.raises(UnsupportedGenerationOption, match="size"):
        await use_case.generate("alice", {"prompt": "p", "size": "999x999"})
    with pytest.raises(UnsupportedGenerationOption, match="quality"):
        await use_case.generate("alice", {"prompt": "p", "quality": "ultra"})
    assert generator.calls == []
    await use_case.generate("alice", {"prompt": "p", "size": "1024x1024", "quality": "high"})
    assert (generator.calls[0].size, generator.calls[0].quality) == ("1024x1024", "high")


async def test_a_refused_prompt_stores_nothing() -> None:
    use_case, images, blobs, generator = make_private_images()
    generator.failures.append(ContentPolicyViolation("refused"))
    with pytest.raises(ContentPolicyViolation):
        await use_case.generate("alice", {"prompt": "p"})
    assert images.list(ImageQuery(limit=10)) == []
    assert list(blobs.stored_keys()) == []


async def test_blob_store_down_means_no_row() -> None:
    use_case, images, blobs, _ = make_private_images()
    blobs.fail_on.add("put")
    with pytest.raises(BlobStoreUnavailable):
        await use_case.generate("alice", {"prompt": "p"})
    assert images.list(ImageQuery(limit=10)) == []


async def test_failed_insert_deletes_the_stored_bytes() -> None:
    use_case, _, blobs, _ = make_private_images(images=FailingInsertRepository())
    with pytest.raises(RepositoryUnavailable):
        await use_case.generate("alice", {"prompt": "p"})
    assert list(blobs.stored_keys()) == []


async def test_failed_insert_and_failed_cleanup_leaves_an_orphan_for_gc() -> None:
    use_case, _, blobs, _ = make_private_images(images=FailingInsertRepository())
    blobs.fail_on.add("delete")
    with pytest.raises(RepositoryUnavailable):
        await use_case.generate("alice", {"prompt": "p"})
    assert len(list(blobs.stored_keys())) == 1


async def test_generations_beyond_the_cap_wait_then_get_a_retry_hint() -> None:
    generator = ScriptedImageGenerator(delay_s=0.3)
    use_case, *_ = make_private_images(
        generator=generator, gate=GenerationGate(limit=2, queue_timeout_s=0.05)
    )
    results = await asyncio.gather(
        *(use_case.generate("alice", {"prompt": f"p{i}"}) for i in range(3)),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, GenerationCapacityExhausted)]
    assert len(refused) == 1
    assert refused[0].retry_after_s is not None
    assert len(generator.calls) == 2


async def test_retag_replaces_tags_and_moves_updated_at() -> None:
    use_case, images, _, _ = make_private_images()
    image = await use_case.generate("alice", {"prompt": "p", "tags": ["a"]})
    changed = use_case.retag("alice", image.guid, {"tags": ["B", "c"]})
    assert changed.tags == ("b", "c")
    assert changed.updated_at > image.updated_at
    assert changed.created_at == image.created_at
    assert images.get(image.guid).tags == ("b", "c")


async def test_only_the_author_may_retag_or_delete() -> None:
    use_case, images, blobs, _ = make_private_images()
    image = await use_case.generate("alice", {"prompt": "p"})
    with pytest.raises(NotImageAuthor):
        use_case.retag("mallory", image.guid, {"tags": []})
    with pytest.raises(NotImageAuthor):
        use_case.delete("mallory", image.guid)
    assert images.get(image.guid) == image
    assert holds(blobs, image.blob_key)


async def test_delete_removes_row_and_bytes() -> None:
    use_case, images, blobs, _ = make_private_images()
    image = await use_case.generate("alice", {"prompt": "p"})
    use_case.delete("alice", image.guid)
    with pytest.raises(ImageNotFound):
        images.get(image.guid)
    assert not holds(blobs, image.blob_key)
    with pytest.raises(ImageNotFound):
        use_case.delete("alice", UUID(int=1))
