"""Pydantic pieces shared by every domain: names, ids, Quantity values."""

from __future__ import annotations

import math
import uuid
from typing import Annotated, Any

from fastapi import Path
from pydantic import AfterValidator, StringConstraints

from cellstore.core.errors import InvalidInput


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


Name = Annotated[str, StringConstraints(min_length=1, max_length=255), AfterValidator(_not_blank)]
"""A resource name: 1 to 255 characters, not only white space."""


def _uuid_text(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError("is not a valid id (expected a UUID)") from None


IdText = Annotated[str, AfterValidator(_uuid_text)]


def id_path(description: str) -> Any:
    """The type of a path parameter holding a resource id.

    Any spelling of a UUID is accepted and normalised to the stored form; anything
    else answers 422 naming the parameter.
    """
    return Annotated[str, AfterValidator(_uuid_text), Path(description=description)]


OrganizationIdPath = id_path("Organization id")
UserIdPath = id_path("User id")


def _is_number(value: Any) -> bool:
    """A finite number; booleans, NaN and infinities are not quantities."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_quantity(path: str, value: Any) -> None:
    """A Quantity is ``{"value": <number>, "unit": <text>}``."""
    if not isinstance(value, dict):
        raise InvalidInput(path, 'must be a Quantity {"value": <number>, "unit": "<unit>"}')
    if not _is_number(value.get("value")):
        raise InvalidInput(f"{path}.value", "must be a number")
    unit = value.get("unit")
    if not isinstance(unit, str) or not unit.strip():
        raise InvalidInput(f"{path}.unit", "must be a non-empty unit string")


def check_quantity_map(path: str, values: Any, *, strict: bool = False) -> None:
    """Check a mapping of properties: numbers must be Quantities.

    Text and flags may stand as they are, and nested groups (such as
    ``measured_properties.cathode.loading``) are checked recursively. With
    ``strict`` every entry must be a Quantity (as spec ratings are).
    """
    if values is None:
        return
    if not isinstance(values, dict):
        raise InvalidInput(path, "must be an object")
    for key, value in values.items():
        where = f"{path}.{key}"
        if strict or _is_number(value) or (isinstance(value, dict) and ("value" in value or "unit" in value)):
            check_quantity(where, value)
        elif isinstance(value, dict):
            check_quantity_map(where, value)
