"""The OpenAI generator through the real SDK against a loopback Images API: what it sends, how it
reads answers, how it fails, and that it never sends a billable request twice."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from pixyproxy.adapters.driven.image_generator_openai import OpenAIImageGenerator
from pixyproxy.domain.exceptions import (
    ContentPolicyViolation,
    UnsupportedGenerationOption,
    UpstreamAuthenticationFailed,
    UpstreamBadResponse,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from pixyproxy.domain.models import GenerationRequest
from tests.support.images_api import TEST_API_KEY, ImagesApiServer, Step

MakeGenerator = Callable[..., OpenAIImageGenerator]
PROMPT = GenerationRequest(prompt="a heron in fog")


@pytest.fixture
async def make_generator(images_api: ImagesApiServer) -> AsyncIterator[MakeGenerator]:
    built: list[OpenAIImageGenerator] = []

    def make(**options: Any) -> OpenAIImageGenerator:
        options = {"api_key": TEST_API_KEY, "base_url": images_api.base_url, **options}
        built.append(OpenAIImageGenerator(**options))
        return built[-1]

    yield make
    for generator in built:
        await generator.aclose()


async def _until(condition: Callable[[], bool]) -> None:
    """Wait for something another thread or process does (10 s at most)."""
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        await asyncio.sleep(0.01)


def _sent(images_api: ImagesApiServer) -> set[str]:
    return {call.request_id for call in images_api.calls}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# --- what is sent ------------------------------------------------------------------------------


async def test_sends_model_prompt_size_and_quality_and_no_response_format(
    images_api: ImagesApiServer, make_generator: MakeGenerator
) -> None:
    generator = make_generator(model="gpt-image-2.5-flare")

    await generator.generate(GenerationRequest("a heron", size="1024x1536", quality="high"))

    [call] = images_api.calls
    assert call.body == {
        "model": "gpt-image-2.5-flare",
        "prompt": "a heron",
        "size": "1024x1536",
        "quality": "high",
    }
    assert call.authorization == f"Bearer {TEST_API_KEY}"


async def test_configured_defaults_fill_in_what_the_request_leaves_out(
    images_api: ImagesApiServer, make_generator: MakeGenerator
) -> None:
    await make_generator(default_size="1536x1024", default_quality="low").generate(PROMPT)
    await make_generator().generate(PROMPT)

    with_defaults, without = images_api.calls
    assert with_defaults.body is not None and without.body is not None
    assert (with_defaults.body["size"], with_defaults.body["quality"]) == ("1536x1024", "low")
    assert "size" not in without.body and "quality" not in without.body


@pytest.mark.parametrize(
    ("output_format", "content_type"), [("jpeg", "image/jpeg"), ("webp", "image/webp")]
)
async def test_other_output_formats_are_asked_for_and_labelled_by_what_arrived(
    images_api: ImagesApiServer,
    make_generator: MakeGenerator,
    output_format: str,
    content_type: str,
) -> None:
    image = await make_generator(output_format=output_format).generate(PROMPT)

    assert images_api.calls[0].body is not None
    assert images_api.calls[0].body["output_format"] == output_format
    assert image.content_type == content_type


# --- what is recorded --------------------------------------------------------------------------


async def test_records_usage_revised_prompt_and_the_upstream_request_id(
    images_api: ImagesApiServer, make_generator: MakeGenerator
) -> None:
    image = await make_generator().generate(PROMPT)

    [call] = images_api.calls
    assert image.upstream_request_id == call.request_id
    assert image.revised_prompt == "a heron in fog, revised"
    assert image.usage.input_tokens == 11
    assert image.usage.output_tokens == 1056
    assert image.usage.total_tokens == 1067
    assert image.model == "gpt-image-2"


# --- refusals and failures ---------------------------------------------------------------------


@pytest.mark.parametrize("refusal", ["content_policy_violation", "moderation_blocked"])
async def test_a_refusal_is_a_content_policy_violation_and_never_retried(
    images_api: ImagesApiServer, make_generator: MakeGenerator, refusal: str
) -> None:
    images_api.script(refusal, refusal)

    with pytest.raises(ContentPolicyViolation) as raised:
        await make_generator(max_retries=3).generate(PROMPT)

    assert "refused" in raised.value.detail
    assert "safety system" in raised.value.detail
    assert images_api.call_count == 1


@pytest.mark.parametrize("failure", ["server_error", "dropped_connection"])
async def test_a_server_error_or_an_answer_cut_short_is_unavailable_and_never_retried(
    images_api: ImagesApiServer, make_generator: MakeGenerator, failure: str
) -> None:
    # Either way the request reached the model, so it may have been billed.
    images_api.script(failure, failure)

    with pytest.raises(UpstreamUnavailable):
        await make_generator(max_retries=3).generate(PROMPT)

    assert images_api.call_count == 1


async def test_an_upstream_objecting_to_size_or_quality_blames_the_option(
    images_api: ImagesApiServer, make_generator: MakeGenerator
) -> None:
    images_api.script(Step("bad_request", param="quality"))

    with pytest.raises(UnsupportedGenerationOption) as raised:
        await make_generator(max_retries=3).generate(PROMPT)

    assert "quality" in raised.value.detail
    assert images_api.call_count == 1


async def test_an_upstream_objecting_to_anything_else_is_unavailable_and_logged(
    images_api: ImagesApiServer, make_generator: MakeGenerator, caplog: pytest.LogCaptureFixture
) -> None:
    images_api.script(Step("bad_request", param="model"))

    with pytest.raises(UpstreamUnavailable) as raised:
        await make_generator(max_retries=3).generate(PROMPT)

    assert "will not take it" in raised.value.detail
    assert any(
        r.levelno == logging.ERROR and "will not take it" in r.getMessage() for r in caplog.records
    )
    assert images_api.call_count == 1


async def test_a_server_hanging_up_without_an_answer_is_unavailable_and_never_retried(
    make_generator: MakeGenerator,
) -> None:
    # The request was sent, so it may have been billed: no retry, and not a timeout either.
    requests: list[bytes] = []

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(await reader.readuntil(b"\r\n\r\n"))
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        generator = make_generator(base_url=f"http://127.0.0.1:{port}/v1", max_retries=3)
        with pytest.raises(UpstreamUnavailable):
            await generator.generate(PROMPT)
    finally:
        server.close()
    assert len(requests) == 1


async def test_an_answer_slower_than_the_timeout_is_a_timeout_and_never_retried(
    images_api: ImagesApiServer, make_generator: MakeGenerator
) -> None:
    images_api.script(Step("slow", sleep_s=10), Step("slow", sleep_s=10))
    started = time.monotonic()

    with pytest.raises(UpstreamTimeout):
        await make_generator(timeout_s=0.5, max_retries=3).generate(PROMPT)

    assert time.monotonic() - started < 3
    assert images_api.call_count == 1


async def test_cancelling_a_generation_hangs_up_on_the_upstream(
    images_api: ImagesApiServer, make_generator: MakeGenerator
) -> None:
    images_api.script(Step("slow", sleep_s=30))
    generation = asyncio.create_task(make_generator().generate(PROMPT))
    await _until(lambda: images_api.call_count == 1)

    generation.cancel()

    with pytest.raises(asyncio.CancelledError):
        await generation
    await _until(lambda: _sent(images_api) <= images_api.hung_up_on)


async def test_closing_with_generations_in_flight_fails_them_as_unavailable(
    images_api: ImagesApiServer, make_generator: MakeGenerator
) -> None:
    images_api.script(Step("slow", sleep_s=30), Step("slow", sleep_s=30))
    generator = make_generator()
    generations = [asyncio.create_task(generator.generate(PROMPT)) for _ in range(2)]
    await _until(lambda: images_api.call_count == 2)

    await generator.aclose()

    for generation in generations:
        with pytest.raises(UpstreamUnavailable):
            await generation
    await _until(lambda: _sent(images_api) <= images_api.hung_up_on)


async def test_a_generation_after_closing_is_unavailable_and_sends_nothing(
    images_api: ImagesApiServer, make_generator: MakeGenerator
) -> None:
    generator = make_generator()
    await generator.generate(PROMPT)
    await generator.aclose()

    with pytest.raises(UpstreamUnavailable):
        await generator.generate(PROMPT)
    assert images_api.call_count == 1


@pytest.mark.parametrize("garbage", ["not_an_image", "not_json", "broken_json"])
async def test_an_answer_that_is_not_an_image_is_a_bad_response(
    images_api: ImagesApiServer, make_generator: MakeGenerator, garbage: str
) -> None:
    images_api.script(garbage)

    with pytest.raises(UpstreamBadResponse):
        await make_generator().generate(PROMPT)

    assert images_api.call_count == 1


@pytest.mark.parametrize("scripted", [True, False], ids=["refused", "wrong-key"])
async def test_rejected_credentials_fail_loudly_without_leaking_the_key(
    images_api: ImagesApiServer,
    make_generator: MakeGenerator,
    caplog: pytest.LogCaptureFixture,
    scripted: bool,
) -> None:
    key = TEST_API_KEY if scripted else "sk-wrong-9d7e1c4b5a"
    if scripted:
        images_api.script("unauthorized")
    caplog.set_level(logging.DEBUG)

    with pytest.raises(UpstreamAuthenticationFailed) as raised:
        await make_generator(api_key=key, max_retries=3).generate(PROMPT)

    assert images_api.call_count == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors, "the operator must hear about a rejected key"
    assert key not in caplog.text
    assert key not in raised.value.detail


async def test_an_exhausted_quota_is_unavailable_and_not_retried(
    images_api: ImagesApiServer, make_generator: MakeGenerator
) -> None:
    images_api.script("insufficient_quota", "insufficient_quota")

    with pytest.raises(UpstreamUnavailable):
        await make_generator(max_retries=3).generate(PROMPT)

    assert images_api.call_count == 1


async def test_a_refused_connection_is_unavailable(make_generator: MakeGenerator) -> None:
    generator = make_generator(base_url=f"http://127.0.0.1:{_closed_port()}/v1")

    with pytest.raises(UpstreamUnavailable):
        await generator.generate(PROMPT)


async def test_a_refused_connection_is_retried_until_the_upstream_comes_up(
    make_generator: MakeGenerator,
) -> None:
    port = _closed_port()
    generator = make_generator(
        base_url=f"http://127.0.0.1:{port}/v1", max_retries=8, retry_budget_s=10
    )
    generation = asyncio.create_task(generator.generate(PROMPT))
    await asyncio.sleep(0.4)
    late_server = ImagesApiServer(port=port).start()
    try:
        image = await asyncio.wait_for(generation, timeout=10)
        assert image.content_type == "image/png"
        assert late_server.call_count == 1
    finally:
        late_server.stop()


# --- rate limits -------------------------------------------------------------------------------


async def test_a_rate_limit_is_retried_after_retry_after_when_allowed(
    images_api: ImagesApiServer, make_generator: MakeGenerator
) -> None:
    images_api.script(Step("rate_limited", retry_after="0.3"))
    started = time.monotonic()

    image = await make_generator(max_retries=2).generate(PROMPT)

    assert time.monotonic() - started >= 0.3
    assert image.content_type == "image/png"
    assert images_api.calls_by_behaviour == {"rate_limited": 1, "ok": 1}


async def test_a_rate_limit_without_retries_allowed_is_sent_once(
    images_api: ImagesApiServer, make_generator: MakeGenerator
) -> None:
    images_api.script(Step("rate_limited", retry_after="2"))

    with pytest.raises(UpstreamRateLimited) as raised:
        await make_generator().generate(PROMPT)

    assert raised.value.retry_after_s == 2
    assert images_api.call_count == 1


async def test_a_rate_limit_outlasting_the_retries_is_reported_with_retry_after(
    images_api: ImagesApiServer, make_generator: MakeGenerator
) -> None:
    images_api.script(*[Step("rate_limited", retry_after="0.1")] * 3)

    with pytest.raises(UpstreamRateLimited) as raised:
        await make_generator(max_retries=1).generate(PROMPT)

    assert raised.value.retry_after_s == pytest.approx(0.1)
    assert images_api.call_count == 2


async def test_a_retry_after_beyond_the_budget_is_not_waited_for(
    images_api: ImagesApiServer, make_generator: MakeGenerator
) -> None:
    images_api.script(Step("rate_limited", retry_after="30"))
    started = time.monotonic()

    with pytest.raises(UpstreamRateLimited) as raised:
        await make_generator(max_retries=3, retry_budget_s=5).generate(PROMPT)

    assert time.monotonic() - started < 3
    assert raised.value.retry_after_s == 30
    assert images_api.call_count == 1
