"""Every error pixyproxy raises on purpose is a `PixyProxyException`.

Adapters translate their libraries' errors into these at the boundary; driving adapters (HTTP,
CLI) decide how to present them. Nothing here knows about status codes. A class's title and
docstring are shown to callers (the HTTP adapter serves them at `/problems/{slug}`): write them
for a client author.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class PixyProxyException(Exception):
    """Root of every deliberate pixyproxy error. `title` is a short, stable summary."""

    title = "pixyproxy error"

    def __init__(self, detail: str | None = None, *, retry_after_s: float | None = None) -> None:
        self.detail = detail or self.title
        # Seconds after which retrying may succeed, when the cause knows it.
        self.retry_after_s = retry_after_s
        super().__init__(self.detail)


# --- the caller's input ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldError:
    """One thing wrong with one part of the input. `loc` names the field as the use case
    knows it (`("tags", 3)`); a driving adapter may say where it came from (body, query)."""

    loc: tuple[str | int, ...]
    msg: str
    type: str = "invalid"


class InvalidInput(PixyProxyException):
    """The input breaks a rule; `errors` lists every broken rule at once."""

    title = "Invalid input"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[FieldError] = (),
        retry_after_s: float | None = None,
    ) -> None:
        self.errors = tuple(errors)
        if detail is None and self.errors:
            detail = "; ".join(
                f"{'.'.join(map(str, e.loc))}: {e.msg}" if e.loc else e.msg for e in self.errors
            )
        super().__init__(detail, retry_after_s=retry_after_s)


class InvalidCursor(InvalidInput):
    title = "Invalid pagination cursor"


class UnsupportedGenerationOption(InvalidInput):
    title = "Unsupported generation option"


class IdempotencyKeyReused(InvalidInput):
    title = "Idempotency key reused with a different request"


class UnsupportedRendition(InvalidInput):
    title = "Unsupported rendition"


# --- who the caller is -------------------------------------------------------------------------


class AuthenticationRequired(PixyProxyException):
    title = "Authentication required"


class InvalidApiKey(AuthenticationRequired):
    title = "Invalid API key"


class ConflictingCredentials(PixyProxyException):
    """Two different API keys came with one request: which one was meant is unknowable, and
    guessing could act as the wrong author."""

    title = "Conflicting credentials"


class NotImageAuthor(PixyProxyException):
    title = "Only the image's author may do this"


# --- what the caller asked for -----------------------------------------------------------------


class NotFound(PixyProxyException):
    title = "Not found"


class ImageNotFound(NotFound):
    title = "Image not found"


class ApiKeyNotFound(NotFound):
    title = "API key not found"


class Conflict(PixyProxyException):
    title = "Conflict"


class IdempotentRequestInProgress(Conflict):
    title = "A request with this idempotency key is still in progress"


class IdempotentResultDeleted(Conflict):
    title = "The image made for this idempotency key has been deleted"


class DuplicateImage(Conflict):
    title = "An image with this GUID already exists"


# --- the image model upstream ------------------------------------------------------------------


class GenerationError(PixyProxyException):
    """The image model did not give us an image."""

    title = "Image generation failed"


class ContentPolicyViolation(GenerationError):
    title = "The image model refused the prompt"


class UpstreamRateLimited(GenerationError):
    title = "The image model is rate limiting us"


class UpstreamTimeout(GenerationError):
    title = "The image model did not answer in time"


class UpstreamUnavailable(GenerationError):
    title = "The image model could not be reached or failed"


class UpstreamBadResponse(GenerationError):
    title = "The image model returned something that is not an image"


class UpstreamAuthenticationFailed(GenerationError):
    title = "The image model rejected pixyproxy's credentials"


# --- our own dependencies ----------------------------------------------------------------------


class ServiceUnavailable(PixyProxyException):
    title = "Service temporarily unavailable"


class RepositoryUnavailable(ServiceUnavailable):
    title = "The database is unavailable"


class SchemaMismatch(RepositoryUnavailable):
    """The database's schema is not the one this code needs, and will not be changed here: it
    is behind and automatic migration is off, or this account may not change it, or a newer
    pixyproxy migrated it. The detail says what to run."""

    title = "The database schema does not match this pixyproxy"


class BlobStoreUnavailable(ServiceUnavailable):
    title = "The image store is unavailable"


class GenerationCapacityExhausted(ServiceUnavailable):
    title = "Too many generations in flight"


class RenditionCapacityExhausted(ServiceUnavailable):
    title = "Too many renditions being rendered"


class ImageTooLarge(PixyProxyException):
    """A stored image has more pixels than pixyproxy will decode (a decompression bomb, or
    a picture beyond the configured limit): no rendition of it is made."""

    title = "The image is too large to render"


class UnreadableImage(PixyProxyException):
    """A stored image's bytes do not decode: an integrity fault, not a client error."""

    title = "The stored image could not be decoded"


class BlobNotFound(PixyProxyException):
    """A stored image's bytes are missing: an integrity fault, not a client error."""

    title = "Image bytes are missing from the store"
