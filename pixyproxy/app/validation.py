"""Revalidation of what driving adapters hand the use cases: one pydantic pass, domain errors."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from pixyproxy.domain.exceptions import InvalidInput

ModelT = TypeVar("ModelT", bound="UseCaseInput")


class UseCaseInput(BaseModel):
    """Base of use-case inputs: immutable, no unknown fields, revalidated even when the web
    layer already built an instance (it may have been built with `model_construct`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", revalidate_instances="always")


def revalidate(model: type[ModelT], raw: Any) -> ModelT:
    """`model` validated from a mapping or an instance; `InvalidInput` naming each bad field."""
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        raise InvalidInput(describe_validation_errors(e.errors())) from e


def describe_validation_errors(errors: Any) -> str:
    parts = []
    for error in errors:
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path"))
        message = str(error.get("msg", "invalid"))
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts) or "invalid input"
