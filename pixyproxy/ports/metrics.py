from __future__ import annotations

from abc import ABC, abstractmethod


class GenerationMetrics(ABC):
    """What the use cases report for operators to count. Never raises."""

    @abstractmethod
    def generation_finished(self, outcome: str, seconds: float) -> None:
        """One call to the image model ended: `ok`, `rejected`, `rate_limited`, `timeout`,
        `upstream_error` or `capacity`; `seconds` is the time spent waiting on the model."""

    @abstractmethod
    def image_stored(self, byte_size: int) -> None:
        """An image's bytes and row were both written."""


class NoMetrics(GenerationMetrics):
    def generation_finished(self, outcome: str, seconds: float) -> None:
        return None

    def image_stored(self, byte_size: int) -> None:
        return None
