"""Image bytes as objects in an S3 bucket (AWS, or MinIO/Ceph/... through `endpoint_url`).

Objects live at `prefix + key` and carry their content type, so presigned URLs and any CDN in
front of the bucket serve them correctly. Credentials come from the standard AWS chain
(environment, shared files, instance or container role); they are never passed in here.

Keys that are not plain names (`is_plain_blob_key`) are refused by `put` and `presigned_url`
with `InvalidInput`; `get`, `size` and `delete` treat them as absent, like the other stores.
`iter_blobs` lists only plain keys directly under the prefix, so other objects sharing the
bucket are neither reported nor, through the garbage collector, deleted.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from typing import TYPE_CHECKING, Literal

import boto3.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from pixyproxy.domain.exceptions import BlobNotFound, BlobStoreUnavailable, InvalidInput
from pixyproxy.domain.models import StoredBlob
from pixyproxy.domain.values import is_plain_blob_key
from pixyproxy.ports.blob_store import BlobStore
from pixyproxy.ports.blob_url_signer import BlobUrlSigner

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# A missing object answers 404 to HEAD (no body, so no code but the status) and NoSuchKey
# to GET.
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
# SigV4 refuses presigned URLs that live longer than a week.
PRESIGN_MAX_EXPIRES_S = 7 * 24 * 3600


def normalize_prefix(prefix: str) -> str:
    """`images`, `/images` and `images/` all mean the `images/` folder; "" means the bucket
    root."""
    stripped = prefix.strip("/")
    return f"{stripped}/" if stripped else ""


def _client_config(
    *,
    bucket: str,
    custom_endpoint: bool,
    connect_timeout_s: float,
    read_timeout_s: float,
    pool: int,
) -> Config:
    config = Config(
        signature_version="s3v4",
        connect_timeout=connect_timeout_s,
        read_timeout=read_timeout_s,
        retries={"mode": "standard", "total_max_attempts": 3},
        max_pool_connections=pool,
    )
    if not custom_endpoint:
        # botocore's "auto" style signs presigned URLs for the global endpoint, which newer
        # regions answer with SignatureDoesNotMatch; an explicit style gets the regional one.
        # Dotted bucket names break the TLS certificate of virtual hosts, hence path for them.
        style: Literal["path", "virtual"] = "path" if "." in bucket else "virtual"
        return config.merge(Config(s3={"addressing_style": style}))
    # MinIO and Ceph serve buckets by path, not by DNS name; and many of them reject the
    # flexible checksums botocore sends by default since 1.36.
    return config.merge(
        Config(
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
    )


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "unknown"))


def _unavailable(action: str, error: ClientError | BotoCoreError) -> BlobStoreUnavailable:
    # The error code or class name only: S3 error bodies can echo request details, and
    # connection errors name the endpoint; neither belongs in a message a client may see.
    reason = _error_code(error) if isinstance(error, ClientError) else type(error).__name__
    return BlobStoreUnavailable(f"S3 could not {action}: {reason}")


class S3BlobStore(BlobStore, BlobUrlSigner):
    """Blobs as objects under `prefix` in `bucket`. Thread-safe: one botocore client, whose
    connection pool (`max_pool_connections`) should be at least the worker thread count."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        public_endpoint_url: str | None = None,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 30.0,
        max_pool_connections: int = 32,
    ) -> None:
        self._bucket = bucket
        self._prefix = normalize_prefix(prefix)
        config = _client_config(
            bucket=bucket,
            custom_endpoint=endpoint_url is not None,
            connect_timeout_s=connect_timeout_s,
            read_timeout_s=read_timeout_s,
            pool=max_pool_connections,
        )
        # A private session: boto3's default session is shared module state and not safe to
        # build clients from concurrently. The client itself is safe to share between threads.
        session = boto3.session.Session()
        self._client: S3Client = session.client(
            "s3", endpoint_url=endpoint_url, region_name=region, config=config
        )
        # SigV4 signs the host, so a URL for clients that reach the store by another name
        # (MinIO as http://minio:9000 inside, https://images.example.com outside) must be
        # signed for that name. Signing is local: this client never connects.
        self._signer: S3Client = (
            self._client
            if public_endpoint_url is None
            else session.client(
                "s3", endpoint_url=public_endpoint_url, region_name=region, config=config
            )
        )

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """One PutObject, atomic by nature. Raises `InvalidInput` or `BlobStoreUnavailable`."""
        object_key = self._object_key(key)
        try:
            self._client.put_object(
                Bucket=self._bucket, Key=object_key, Body=data, ContentType=content_type
            )
        except (ClientError, BotoCoreError) as e:
            raise _unavailable(f"store blob {key!r}", e) from e

    def get(self, key: str) -> bytes:
        """The object's bytes. Raises `BlobNotFound` or `BlobStoreUnavailable`. Without
        s3:ListBucket permission S3 answers a missing key with 403, which reads as
        unavailable."""
        if not is_plain_blob_key(key):
            raise BlobNotFound(f"no blob {key!r}")
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=self._prefix + key)
            return response["Body"].read()
        except ClientError as e:
            if _error_code(e) in _MISSING_CODES:
                raise BlobNotFound(f"no blob {key!r}") from e
            raise _unavailable(f"read blob {key!r}", e) from e
        except BotoCoreError as e:
            raise _unavailable(f"read blob {key!r}", e) from e

    def delete(self, key: str) -> None:
        """DeleteObject; S3 answers success for a missing key."""
        if not is_plain_blob_key(key):
            return
        try:
            self._client.delete_object(Bucket=self._bucket, Key=self._prefix + key)
        except (ClientError, BotoCoreError) as e:
            raise _unavailable(f"delete blob {key!r}", e) from e

    def size(self, key: str) -> int:
        """HeadObject's length. Raises `BlobNotFound` or `BlobStoreUnavailable`."""
        if not is_plain_blob_key(key):
            raise BlobNotFound(f"no blob {key!r}")
        try:
            head = self._client.head_object(Bucket=self._bucket, Key=self._prefix + key)
        except ClientError as e:
            if _error_code(e) in _MISSING_CODES:
                raise BlobNotFound(f"no blob {key!r}") from e
            raise _unavailable(f"check blob {key!r}", e) from e
        except BotoCoreError as e:
            raise _unavailable(f"check blob {key!r}", e) from e
        return int(head["ContentLength"])

    def iter_blobs(self) -> Iterator[StoredBlob]:
        """Plain keys directly under the prefix, page by page (1000 objects a request)."""
        paginator = self._client.get_paginator("list_objects_v2")
        # The delimiter keeps "folders" below the prefix (other tenants, other prefixes)
        # out of the listing instead of fetching and discarding them.
        pages = paginator.paginate(Bucket=self._bucket, Prefix=self._prefix, Delimiter="/")
        try:
            for page in pages:
                for listed in page.get("Contents", []):
                    key = listed["Key"][len(self._prefix) :]
                    if is_plain_blob_key(key):
                        yield StoredBlob(key, listed["LastModified"].astimezone(UTC))
        except (ClientError, BotoCoreError) as e:
            raise _unavailable("list blobs", e) from e

    def presigned_url(self, key: str, content_type: str, expires_s: int) -> str:
        """A GET URL valid for `expires_s` seconds (1 to one week) that serves the bytes
        as `content_type`. Signed locally, no request is made. Raises `InvalidInput` for a
        key that is not a plain name or an expiry out of range."""
        object_key = self._object_key(key)
        if not 1 <= expires_s <= PRESIGN_MAX_EXPIRES_S:
            raise InvalidInput(f"presigned URL expiry must be 1..{PRESIGN_MAX_EXPIRES_S} s")
        try:
            return self._signer.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self._bucket,
                    "Key": object_key,
                    "ResponseContentType": content_type,
                },
                ExpiresIn=expires_s,
            )
        except (ClientError, BotoCoreError) as e:
            raise _unavailable(f"sign a URL for blob {key!r}", e) from e

    def ping(self) -> None:
        """HeadBucket: the endpoint answers, the bucket exists and our credentials reach it."""
        try:
            self._client.head_bucket(Bucket=self._bucket)
        except (ClientError, BotoCoreError) as e:
            raise _unavailable(f"reach bucket {self._bucket!r}", e) from e

    def close(self) -> None:
        """Close the client's pooled connections. The store is unusable afterwards."""
        self._client.close()
        self._signer.close()

    def _object_key(self, key: str) -> str:
        if not is_plain_blob_key(key):
            raise InvalidInput(f"blob key {key!r} is not a plain name")
        return self._prefix + key
