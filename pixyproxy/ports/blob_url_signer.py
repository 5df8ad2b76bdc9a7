from __future__ import annotations

from abc import ABC, abstractmethod


class BlobUrlSigner(ABC):
    """A blob store whose bytes clients can fetch from it directly (S3's presigned URLs), so
    they need not pass through pixyproxy."""

    @abstractmethod
    def presigned_url(self, key: str, content_type: str, expires_s: int) -> str:
        """A URL serving the bytes as `content_type` for `expires_s` seconds. Raises
        `InvalidInput` for a key that is not a plain name or an expiry the store refuses,
        `BlobStoreUnavailable`."""
