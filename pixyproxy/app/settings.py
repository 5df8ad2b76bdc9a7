"""All configuration, read from the environment (prefix `PIXYPROXY_`) only when asked to."""

from __future__ import annotations

from typing import Annotated, Literal, Self
from urllib.parse import quote

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from pixyproxy.domain.renditions import DEFAULT_WIDTHS, MAX_WIDTH, THUMBNAIL

DEFAULT_DATABASE_URL = "sqlite:///./pixyproxy-data/pixyproxy.db"
# What the examples we ship (compose.yaml, sql/02_create_user.sql) put where a secret belongs.
PLACEHOLDER_MARK = "change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PIXYPROXY_", extra="ignore", frozen=True)

    # --- database ---------------------------------------------------------------------------
    database_url: SecretStr = SecretStr(DEFAULT_DATABASE_URL)
    mysql_host: str | None = None
    mysql_port: int = 3306
    mysql_user: str = "pixyproxy"
    mysql_password: SecretStr = SecretStr("")
    mysql_database: str = "pixyproxy"
    # No overflow by default: a connection opened past the pool is closed on return, so a
    # steady load above the pool size would open one per request, and pymysql builds a TLS
    # context for each, tens of milliseconds of CPU (bench/RESULTS.md, the profiles).
    db_pool_size: int = Field(20, ge=1, le=200)
    db_max_overflow: int = Field(0, ge=0, le=200)
    db_pool_timeout_s: float = Field(5.0, gt=0)
    db_connect_timeout_s: float = Field(5.0, gt=0)
    db_query_timeout_s: float = Field(10.0, gt=0)
    db_pool_recycle_s: int = Field(1800, ge=1)
    # Off: `serve` refuses a database whose schema is behind the code, for operators who
    # migrate by hand (`pixyproxy db upgrade`, or the sql/upgrade scripts).
    auto_migrate: bool = True

    # --- image bytes ------------------------------------------------------------------------
    blob_store: Literal["local", "s3"] = "local"
    local_dir: str = "./pixyproxy-data/images"
    s3_bucket: str | None = None
    s3_prefix: str = ""
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_public_endpoint_url: str | None = None
    content_delivery: Literal["proxy", "redirect", "x-accel"] = "proxy"
    presigned_url_ttl_s: int = Field(300, ge=1, le=7 * 24 * 3600)
    x_accel_prefix: str = "/_pixyproxy_images/"
    # Per worker. A delete made in another worker or process is seen within the TTL; 0 turns
    # the facts cache off (every content request reads the row).
    content_cache_ttl_s: float = Field(5.0, ge=0, le=3600)
    content_cache_entries: int = Field(10_000, ge=0, le=10_000_000)
    # Kept bytes cost a worker their size and some 10% more in allocator slack; 32 MiB took
    # the bench's busiest worker to a 196 MB peak, against 200 MB allowed.
    content_cache_bytes: int = Field(16 * 1024 * 1024, ge=0)
    content_cache_item_bytes: int = Field(1024 * 1024, ge=0)

    # --- renditions -------------------------------------------------------------------------
    rendition_widths: Annotated[list[int], NoDecode] = list(DEFAULT_WIDTHS)
    # Above this, an image is not decoded at all (a decompression bomb, or a picture whose
    # decode would take more memory than a worker should): 25 MP decode to ~100 MB.
    rendition_max_pixels: int = Field(25_000_000, ge=1)
    rendition_concurrency: int = Field(2, ge=1, le=256)
    rendition_queue_timeout_s: float = Field(10.0, ge=0)

    # --- image model ------------------------------------------------------------------------
    generator: Literal["local", "openai"] | None = None
    openai_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("OPENAI_API_KEY", "PIXYPROXY_OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        None, validation_alias=AliasChoices("OPENAI_BASE_URL", "PIXYPROXY_OPENAI_BASE_URL")
    )
    openai_model: str = "gpt-image-2"
    openai_size: str | None = None
    openai_quality: str | None = None
    openai_timeout_s: float = Field(300.0, gt=0)
    openai_max_retries: int = Field(0, ge=0, le=10)
    openai_retry_budget_s: float = Field(30.0, ge=0)
    local_generator_delay_s: float = Field(0.0, ge=0)
    generation_concurrency: int = Field(16, ge=1, le=4096)
    generation_queue_timeout_s: float = Field(10.0, ge=0)
    idempotency_wait_s: float = Field(30.0, ge=0)

    # --- HTTP -------------------------------------------------------------------------------
    max_body_bytes: int = Field(64 * 1024, ge=1024)
    # What one client may hold of a worker (see web/http_guard.py); per worker process.
    http_max_header_bytes: int = Field(32 * 1024, ge=1024, le=1024 * 1024)
    http_header_timeout_s: float = Field(10.0, gt=0, le=3600)
    http_body_timeout_s: float = Field(30.0, gt=0, le=3600)
    http_keepalive_timeout_s: int = Field(5, ge=1, le=3600)
    http_max_connections: int = Field(1000, ge=1, le=1_000_000)
    cors_origins: Annotated[list[str], NoDecode] = []
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_prompts: bool = False
    threadpool_size: int = Field(64, ge=1, le=1024)
    # Where `serve` leaves the first API key when stdout is not a terminal (a log stream).
    first_key_file: str = "./pixyproxy-data/first-admin-key"

    @model_validator(mode="before")
    @classmethod
    def _split_cors_origins(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("cors_origins"), str):
            raw = data["cors_origins"]
            data = {**data, "cors_origins": [o.strip() for o in raw.split(",") if o.strip()]}
        return data

    @model_validator(mode="before")
    @classmethod
    def _split_rendition_widths(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("rendition_widths"), str):
            raw = data["rendition_widths"]
            data = {**data, "rendition_widths": [w.strip() for w in raw.split(",") if w.strip()]}
        return data

    @model_validator(mode="after")
    def _check_rendition_widths(self) -> Self:
        widths = self.rendition_widths
        if not widths or any(not 1 <= w <= MAX_WIDTH for w in widths):
            raise ValueError(f"PIXYPROXY_RENDITION_WIDTHS must be widths of 1..{MAX_WIDTH} px")
        if THUMBNAIL.width not in widths:
            raise ValueError(
                f"PIXYPROXY_RENDITION_WIDTHS must include {THUMBNAIL.width}: details link to "
                "the thumbnail at that width"
            )
        return self

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Self:
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if isinstance(value, str) and PLACEHOLDER_MARK in value.lower():
                raise ValueError(
                    f"{_variable_name(name, field.validation_alias)} still holds a "
                    f"{PLACEHOLDER_MARK.upper()} placeholder from an example: set a real value"
                )
        return self

    @model_validator(mode="after")
    def _check_backends(self) -> Self:
        if self.blob_store == "s3" and not self.s3_bucket:
            raise ValueError("PIXYPROXY_BLOB_STORE=s3 needs PIXYPROXY_S3_BUCKET")
        if self.content_delivery == "redirect" and self.blob_store != "s3":
            raise ValueError("PIXYPROXY_CONTENT_DELIVERY=redirect needs PIXYPROXY_BLOB_STORE=s3")
        if self.content_delivery == "x-accel" and self.blob_store != "local":
            raise ValueError("PIXYPROXY_CONTENT_DELIVERY=x-accel needs PIXYPROXY_BLOB_STORE=local")
        if self.effective_generator == "openai" and not self.openai_api_key:
            raise ValueError("PIXYPROXY_GENERATOR=openai needs OPENAI_API_KEY")
        return self

    @property
    def effective_generator(self) -> Literal["local", "openai"]:
        """`local` unless chosen otherwise or an OpenAI key is present."""
        if self.generator is not None:
            return self.generator
        return "openai" if self.openai_api_key else "local"

    @property
    def effective_database_url(self) -> str:
        """The discrete MySQL settings win over the URL when a host is given."""
        if self.mysql_host:
            user = quote(self.mysql_user, safe="")
            password = quote(self.mysql_password.get_secret_value(), safe="")
            credentials = f"{user}:{password}" if password else user
            return (
                f"mysql+pymysql://{credentials}@{self.mysql_host}:{self.mysql_port}"
                f"/{quote(self.mysql_database, safe='')}?charset=utf8mb4"
            )
        return self.database_url.get_secret_value()


def _variable_name(field_name: str, alias: object) -> str:
    """The environment variable that sets `field_name` (its first alias, if it has any)."""
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        return alias.choices[0]
    return f"PIXYPROXY_{field_name.upper()}"
