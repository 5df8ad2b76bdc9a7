"""Revalidation of what driving adapters hand the use cases: one pydantic pass, domain errors."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from pixyproxy.domain.exceptions import FieldError, InvalidInput

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
        raise InvalidInput(errors=field_errors(e.errors())) from e


def field_errors(errors: Iterable[Mapping[str, Any]]) -> list[FieldError]:
    """pydantic's error dicts as `FieldError`s; the input itself is never quoted back."""
    return [
        FieldError(
            loc=tuple(error.get("loc", ())),
            msg=str(error.get("msg", "invalid")).removeprefix("Value error, "),
            type=str(error.get("type", "invalid")),
        )
        for error in errors
    ]
