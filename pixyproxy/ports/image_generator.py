from __future__ import annotations

from abc import ABC, abstractmethod

from pixyproxy.domain.models import GeneratedImage, GenerationRequest, GeneratorCapabilities


class ImageGenerator(ABC):
    """An image model. `generate` never blocks the event loop."""

    @abstractmethod
    def capabilities(self) -> GeneratorCapabilities:
        """The model name, the sizes and qualities it accepts, and how long a generation may
        take at most."""

    @abstractmethod
    async def generate(self, request: GenerationRequest) -> GeneratedImage:
        """Make one image, verified to be one.

        Raises `UnsupportedGenerationOption` (a size or quality the model refuses),
        `ContentPolicyViolation`, `UpstreamRateLimited`, `UpstreamTimeout`,
        `UpstreamUnavailable`, `UpstreamBadResponse` or `UpstreamAuthenticationFailed`.
        """

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most generators hold nothing
        """Release connections."""
