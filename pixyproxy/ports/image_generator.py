from __future__ import annotations

from abc import ABC, abstractmethod

from pixyproxy.domain.models import GeneratedImage, GenerationRequest, GeneratorCapabilities


class ImageGenerator(ABC):
    """An image model. `generate` never blocks the event loop."""

    @abstractmethod
    def capabilities(self) -> GeneratorCapabilities:
        """The model name and the sizes and qualities it accepts."""

    @abstractmethod
    async def generate(self, request: GenerationRequest) -> GeneratedImage:
        """Make one image, verified to be one.

        Raises `ContentPolicyViolation`, `UpstreamRateLimited`, `UpstreamTimeout`,
        `UpstreamUnavailable`, `UpstreamBadResponse` or `UpstreamAuthenticationFailed`.
        """

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most generators hold nothing
        """Release connections."""
