"""OpenAI's Images API (and servers that speak it) through the official `openai` SDK.

Retries: the SDK's own retries are switched off, because it re-sends after 5xx and timeouts with
no idempotency key, and a generation whose answer was lost is still billed. This adapter retries
only what cannot have been billed: a connection that was refused or never opened, and HTTP 429.
`max_retries` caps the retries (0, the default, means one attempt and no retry); no retry starts
later than `retry_budget_s` after the first attempt, and a Retry-After beyond it is not waited for.

Transport: the SDK's aiohttp transport (`DefaultAioHttpClient`, the `openai[aiohttp]` extra)
rather than httpcore2, whose pool costs CPU quadratic in the requests in flight. It reports
every aiohttp connection error, a refused connection or a server hanging up included, as a
timeout; `_causes` looks past that to what happened.

Event loop: the SDK's calls run on an event loop of their own in a thread (`LoopThread`). The
SDK's CPU per generation is not negligible, and the answers to a wave of generations arrive
together: on the serving loop they kept it busy for tenths of a second at a time, so every
other request of the worker waited that long (bench/RESULTS.md, scenario 4).

Model names: a `gpt-image*` model accepts the sizes and qualities below; any other name is taken to
be an OpenAI-compatible server and is offered the same set, since that is what such servers copy.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import email.utils
import io
import itertools
import logging
import time
from collections.abc import Iterator
from typing import Literal

import aiohttp
import httpx2
import openai
from openai import AsyncOpenAI, DefaultAioHttpClient, omit
from openai.types import ImagesResponse
from PIL import Image

from pixyproxy.adapters.driven.loop_thread import LoopThread, LoopThreadClosed
from pixyproxy.domain.exceptions import (
    ContentPolicyViolation,
    PixyProxyException,
    UnsupportedGenerationOption,
    UpstreamAuthenticationFailed,
    UpstreamBadResponse,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from pixyproxy.domain.models import (
    GeneratedImage,
    GenerationRequest,
    GeneratorCapabilities,
    Usage,
)
from pixyproxy.ports.image_generator import ImageGenerator

log = logging.getLogger(__name__)

OPENAI_BASE_URL = "https://api.openai.com/v1"
Quality = Literal["low", "medium", "high", "auto"]
OutputFormat = Literal["png", "jpeg", "webp"]
_QUALITIES: dict[str, Quality] = {"low": "low", "medium": "medium", "high": "high", "auto": "auto"}
_OUTPUT_FORMATS: dict[str, OutputFormat] = {"png": "png", "jpeg": "jpeg", "webp": "webp"}
SIZES = frozenset({"1024x1024", "1536x1024", "1024x1536", "auto"})
QUALITIES = frozenset(_QUALITIES)
_CONTENT_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
_REFUSAL_CODES = frozenset({"content_policy_violation", "moderation_blocked"})
_MESSAGE_MAX_CHARS = 500
# Generations are spread over several SDK clients: a transport's pool costs CPU that grows with
# the requests in flight on one client (measure with `python -m bench.sdk_wave --shards N`).
CLIENT_SHARDS = 8
# The SDK's limits, with idle connections dropped after 4 s rather than httpx's 5: a server
# that closes them after 5 s (uvicorn's default) otherwise races our reuse, and a request
# lost on a dying connection may have been billed, so it is not retried. The aiohttp transport
# takes max_connections and keepalive_expiry; it keeps every idle connection up to the former.
_LIMITS = httpx2.Limits(max_connections=1000, max_keepalive_connections=100, keepalive_expiry=4.0)


class OpenAIImageGenerator(ImageGenerator):
    """`CLIENT_SHARDS` `AsyncOpenAI` clients, taken in turn by the generations, on an event
    loop thread of their own; close them with `aclose()`."""

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        model: str = "gpt-image-2",
        default_size: str | None = None,
        default_quality: str | None = None,
        timeout_s: float = 300.0,
        max_retries: int = 0,
        retry_budget_s: float = 30.0,
        output_format: str = "png",
    ) -> None:
        if not api_key:
            raise ValueError("api_key must not be empty")
        if default_size is not None and default_size not in SIZES:
            raise ValueError(f"default_size must be one of {sorted(SIZES)}")
        if default_quality is not None and default_quality not in QUALITIES:
            raise ValueError(f"default_quality must be one of {sorted(QUALITIES)}")
        if output_format not in _OUTPUT_FORMATS:
            raise ValueError(f"output_format must be one of {sorted(_OUTPUT_FORMATS)}")
        if timeout_s <= 0 or max_retries < 0 or retry_budget_s < 0:
            raise ValueError(
                "timeout_s must be positive; max_retries and retry_budget_s not negative"
            )
        self._api_key = api_key
        self._model = model
        self._default_size = default_size
        self._default_quality = default_quality
        self._timeout_s = timeout_s
        self._max_retries = max_retries
        self._retry_budget_s = retry_budget_s
        self._output_format = _OUTPUT_FORMATS[output_format]
        # An explicit base URL, so that OPENAI_BASE_URL in the environment cannot redirect us.
        self._clients = [
            AsyncOpenAI(
                api_key=api_key,
                base_url=base_url or OPENAI_BASE_URL,
                timeout=timeout_s,
                max_retries=0,
                http_client=DefaultAioHttpClient(timeout=timeout_s, limits=_LIMITS),
            )
            for _ in range(CLIENT_SHARDS)
        ]
        self._next_client = itertools.cycle(self._clients)
        self._client = self._clients[0]
        self._sdk_loop = LoopThread("pixyproxy-openai")

    def capabilities(self) -> GeneratorCapabilities:
        """The configured model with the GPT image models' standard sizes and qualities."""
        # A retry may start up to the retry budget after the first attempt, then take as long.
        retrying_s = self._retry_budget_s if self._max_retries else 0.0
        return GeneratorCapabilities(
            model=self._model,
            sizes=SIZES,
            qualities=QUALITIES,
            max_duration_s=retrying_s + self._timeout_s,
        )

    async def generate(self, request: GenerationRequest) -> GeneratedImage:
        """Ask the model for one image and verify it is one; see the module doc for retries.

        Raises `ContentPolicyViolation`, `UnsupportedGenerationOption`, `UpstreamRateLimited`,
        `UpstreamTimeout`, `UpstreamUnavailable`, `UpstreamBadResponse` or
        `UpstreamAuthenticationFailed`.
        """
        size = request.size or self._default_size
        quality = request.quality or self._default_quality
        if size is not None and size not in SIZES:
            raise UnsupportedGenerationOption(f"size {size!r} is not one of {sorted(SIZES)}")
        if quality is not None and quality not in QUALITIES:
            raise UnsupportedGenerationOption(
                f"quality {quality!r} is not one of {sorted(QUALITIES)}"
            )
        try:
            response = await self._sdk_loop.run(
                lambda: self._call_with_retries(request.prompt, size, quality)
            )
        except LoopThreadClosed as e:
            raise UpstreamUnavailable("the image model client was closed") from e
        return await self._read(response)

    async def aclose(self) -> None:
        """Abandon the calls in flight (they fail with `UpstreamUnavailable`), close the SDK
        clients' connection pools and stop their thread."""
        await self._sdk_loop.aclose(last=self._close_clients)

    async def _close_clients(self) -> None:
        for client in self._clients:
            await client.close()

    async def _call_with_retries(
        self, prompt: str, size: str | None, quality: str | None
    ) -> ImagesResponse:
        retry_deadline = time.monotonic() + self._retry_budget_s
        for attempt in range(self._max_retries + 1):
            try:
                async with asyncio.timeout(self._timeout_s):
                    return await next(self._next_client).images.generate(
                        model=self._model,
                        prompt=prompt,
                        size=size if size is not None else omit,
                        quality=_QUALITIES[quality] if quality is not None else omit,
                        # png is the API's default; leaving it out suits compatible servers.
                        output_format=self._output_format if self._output_format != "png" else omit,
                    )
            except TimeoutError as e:
                raise self._timed_out() from e
            # The SDK lets json.loads' errors on a broken JSON body through unwrapped.
            except ValueError as e:
                raise UpstreamBadResponse("the image model's answer could not be read") from e
            except openai.OpenAIError as e:
                wait_s = _unbilled_retry_wait(e, attempt)
                fits = wait_s is not None and time.monotonic() + wait_s <= retry_deadline
                if wait_s is None or not fits or attempt == self._max_retries:
                    raise self._translate(e) from e
                log.warning(
                    "image model: %s; retry %d of %d in %.2f s",
                    type(e).__name__,
                    attempt + 1,
                    self._max_retries,
                    wait_s,
                )
                await asyncio.sleep(wait_s)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _timed_out(self) -> UpstreamTimeout:
        return UpstreamTimeout(f"the image model did not answer within {self._timeout_s:g} s")

    def _translate(self, e: openai.OpenAIError) -> PixyProxyException:
        if isinstance(e, openai.APITimeoutError) and _timed_out(e):
            return self._timed_out()
        if isinstance(e, openai.APIConnectionError):
            return UpstreamUnavailable("the image model could not be reached")
        if not isinstance(e, openai.APIStatusError):
            return UpstreamUnavailable(f"the image model client failed: {type(e).__name__}")
        message = self._upstream_message(e)
        status = e.status_code
        if isinstance(e, openai.BadRequestError) and e.code in _REFUSAL_CODES:
            return ContentPolicyViolation(f"the image model refused the prompt: {message}")
        if isinstance(e, openai.BadRequestError) and e.param in ("size", "quality"):
            return UnsupportedGenerationOption(f"the image model rejected the {e.param}: {message}")
        if isinstance(e, openai.AuthenticationError | openai.PermissionDeniedError):
            # The upstream message may quote the key, so only the status reaches the log.
            self._log_operator_fault(e, "rejected pixyproxy's API key; check the configured key")
            return UpstreamAuthenticationFailed("the image model rejected pixyproxy's credentials")
        if isinstance(e, openai.RateLimitError) and e.code == "insufficient_quota":
            self._log_operator_fault(e, "says the account has no quota left")
            return UpstreamUnavailable("the image model's account has run out of quota")
        if isinstance(e, openai.RateLimitError):
            retry_after_s = _retry_after_s(e.response.headers)
            return UpstreamRateLimited(
                "the image model is rate limiting pixyproxy", retry_after_s=retry_after_s
            )
        if status >= 500:
            return UpstreamUnavailable(f"the image model failed (HTTP {status})")
        # Any other 4xx means pixyproxy sent something this upstream does not take: our fault.
        self._log_operator_fault(e, f"rejected pixyproxy's request: {message}")
        return UpstreamUnavailable(f"the image model rejected pixyproxy's request: {message}")

    def _log_operator_fault(self, e: openai.APIStatusError, what: str) -> None:
        log.error(
            "image model at %s %s (HTTP %d, code %s, request id %s)",
            self._client.base_url.host,
            what,
            e.status_code,
            e.code,
            e.request_id,
        )

    def _upstream_message(self, e: openai.APIStatusError) -> str:
        body = e.body
        text = body.get("message") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text:
            text = f"HTTP {e.status_code}"
        return text.replace(self._api_key, "[api key]")[:_MESSAGE_MAX_CHARS]

    async def _read(self, response: object) -> GeneratedImage:
        if not isinstance(response, ImagesResponse):
            raise UpstreamBadResponse("the image model's answer is not JSON")
        first = response.data[0] if isinstance(response.data, list) and response.data else None
        encoded = getattr(first, "b64_json", None)
        if not isinstance(encoded, str) or not encoded:
            raise UpstreamBadResponse("the image model's answer carries no base64 image")
        data, content_type, width, height = await asyncio.to_thread(_decode_image, encoded)
        revised_prompt = getattr(first, "revised_prompt", None)
        answered_model = (response.model_extra or {}).get("model")
        return GeneratedImage(
            data=data,
            content_type=content_type,
            width=width,
            height=height,
            model=answered_model if isinstance(answered_model, str) else self._model,
            revised_prompt=revised_prompt if isinstance(revised_prompt, str) else None,
            upstream_request_id=response._request_id,
            usage=_usage(response),
        )


def _unbilled_retry_wait(e: openai.OpenAIError, attempt: int) -> float | None:
    """Seconds to wait before retrying, or None when the request may have been billed."""
    if isinstance(e, openai.RateLimitError) and e.code != "insufficient_quota":
        retry_after_s = _retry_after_s(e.response.headers)
        return retry_after_s if retry_after_s is not None else min(2.0**attempt, 8.0)
    if isinstance(e, openai.APIConnectionError) and _never_sent(e):
        return min(0.25 * 2.0**attempt, 4.0)
    return None


def _causes(e: BaseException) -> Iterator[BaseException]:
    cause = e.__cause__
    while cause is not None:
        yield cause
        cause = cause.__cause__


def _never_sent(e: openai.OpenAIError) -> bool:
    """The connection could not be opened (refused, no such host), so nothing was sent."""
    return any(
        isinstance(c, httpx2.ConnectError | aiohttp.ClientConnectorError) for c in _causes(e)
    )


def _timed_out(e: openai.APITimeoutError) -> bool:
    """A timeout indeed, not an aiohttp connection error relabelled as one by the transport."""
    from_aiohttp = [c for c in _causes(e) if isinstance(c, aiohttp.ClientError)]
    return not from_aiohttp or any(isinstance(c, aiohttp.ServerTimeoutError) for c in from_aiohttp)


def _retry_after_s(headers: httpx2.Headers) -> float | None:
    """Retry-After in seconds (OpenAI also sends retry-after-ms); None when absent or unreadable."""
    milliseconds, seconds = headers.get("retry-after-ms"), headers.get("retry-after")
    if milliseconds is not None:
        with contextlib.suppress(ValueError):
            return max(0.0, float(milliseconds) / 1000)
    if seconds is None:
        return None
    with contextlib.suppress(ValueError):
        return max(0.0, float(seconds))
    try:  # an HTTP date
        when = email.utils.parsedate_to_datetime(seconds)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _decode_image(encoded: str) -> tuple[bytes, str, int, int]:
    try:
        data = base64.b64decode(encoded, validate=True)
    except binascii.Error as e:
        raise UpstreamBadResponse("the image model's answer is not valid base64") from e
    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            fmt, width, height = image.format, image.width, image.height
    # Pillow signals a broken file with many exception types; all mean "not an image".
    except Exception as e:
        raise UpstreamBadResponse("the image model returned bytes that are not an image") from e
    content_type = _CONTENT_TYPES.get(fmt or "")
    if content_type is None:
        raise UpstreamBadResponse(f"the image model returned a {fmt} image; pixyproxy takes none")
    return data, content_type, width, height


def _usage(response: ImagesResponse) -> Usage:
    usage = response.usage
    counts = [
        getattr(usage, name, None) for name in ("input_tokens", "output_tokens", "total_tokens")
    ]
    ints = [c if isinstance(c, int) else None for c in counts]
    return Usage(input_tokens=ints[0], output_tokens=ints[1], total_tokens=ints[2])
