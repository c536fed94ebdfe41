"""The query-string filter language of the Ionworks API, turned into SQL predicates.

``name=eq.X`` (exact), ``name=ilike.%X%`` (case-insensitive pattern), bare
``name=X`` (equality), ``created_at_gt`` / ``created_at_lt`` (ranges on
timestamps), ``order_by`` / ``order``. Each list endpoint declares which
columns it filters and sorts on; anything else in the query string is refused
with a 422 that names it, rather than silently ignored.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select
from starlette.datastructures import QueryParams

from cellstore.core.errors import InvalidInput

_OPERATOR = re.compile(r"^([a-z]+)\.(.*)$", re.DOTALL)
KNOWN_OPERATORS = {"eq", "neq", "ilike", "like", "gt", "gte", "lt", "lte", "in", "is"}
RANGE_SUFFIXES = {"gt": "__gt__", "gte": "__ge__", "lt": "__lt__", "lte": "__le__"}
PAGING = {"limit", "offset"}


@dataclass(frozen=True)
class FilterSpec:
    """What one list endpoint may filter and sort on.

    ``text`` columns take ``eq.``, ``ilike.`` or a bare value; ``exact`` columns
    a bare value (or ``eq.``); ``ranges`` timestamp columns take ``_gt``/``_lt``
    (and ``_gte``/``_lte``) suffixes; ``handled`` names parameters the endpoint
    reads itself.
    """

    text: Mapping[str, Any] = field(default_factory=dict)
    exact: Mapping[str, Any] = field(default_factory=dict)
    ranges: Mapping[str, Any] = field(default_factory=dict)
    ids: Mapping[str, Any] = field(default_factory=dict)
    order_by: Mapping[str, Any] = field(default_factory=dict)
    default_order: tuple[str, str] = ("created_at", "desc")
    handled: frozenset[str] = frozenset()


def _split(name: str, raw: str) -> tuple[str, str]:
    match = _OPERATOR.match(raw)
    if match and match.group(1) in KNOWN_OPERATORS:
        return match.group(1), match.group(2)
    return "eq", raw


def parse_timestamp(name: str, raw: str) -> datetime:
    """An ISO-8601 instant; one without zone is taken as UTC."""
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00").replace(" ", "+"))
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise InvalidInput(name, f"'{raw}' is not an ISO-8601 timestamp within years 1 to 9999") from None


def parse_id(name: str, raw: str) -> str:
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise InvalidInput(name, f"'{raw}' is not a valid id") from None


def _text_predicate(name: str, column: Any, raw: str, allow_pattern: bool) -> ColumnElement[bool]:
    operator, value = _split(name, raw)
    if operator == "eq":
        return column == value
    if operator == "neq":
        return column != value
    if operator in ("ilike", "like") and allow_pattern:
        return column.ilike(value) if operator == "ilike" else column.like(value)
    raise InvalidInput(name, f"operator '{operator}' is not supported here")


def _range_param(name: str, spec: FilterSpec) -> tuple[Any, str] | None:
    base, _, suffix = name.rpartition("_")
    if suffix in RANGE_SUFFIXES and base in spec.ranges:
        return spec.ranges[base], RANGE_SUFFIXES[suffix]
    return None


def build_filters(query: QueryParams, spec: FilterSpec) -> list[ColumnElement[bool]]:
    """Predicates for every filter parameter; raises on an unknown parameter or operator."""
    predicates: list[ColumnElement[bool]] = []
    for name in dict.fromkeys(query.keys()):
        if name in PAGING or name in spec.handled or name in ("order_by", "order"):
            continue
        values = query.getlist(name)
        if any("\x00" in value for value in values):
            raise InvalidInput(name, "must not contain NUL characters")
        if name in spec.text:
            predicates += [_text_predicate(name, spec.text[name], v, True) for v in values]
        elif name in spec.exact:
            predicates += [_text_predicate(name, spec.exact[name], v, False) for v in values]
        elif name in spec.ids:
            predicates += [spec.ids[name] == parse_id(name, _split(name, v)[1]) for v in values]
        elif name in spec.ranges:
            for raw in values:
                operator, value = _split(name, raw)
                column = spec.ranges[name]
                if operator not in ("eq", *RANGE_SUFFIXES):
                    raise InvalidInput(name, f"operator '{operator}' is not supported here")
                method = "__eq__" if operator == "eq" else RANGE_SUFFIXES[operator]
                predicates.append(getattr(column, method)(parse_timestamp(name, value)))
        elif (ranged := _range_param(name, spec)) is not None:
            column, method = ranged
            predicates += [getattr(column, method)(parse_timestamp(name, v)) for v in values]
        else:
            raise InvalidInput(name, "unknown query parameter")
    return predicates


def apply_order(stmt: Select[Any], query: QueryParams, spec: FilterSpec, tiebreak: Any) -> Select[Any]:
    """Sort by ``order_by``/``order`` (validated), with the id as a stable tie-breaker."""
    column_name = query.get("order_by", spec.default_order[0])
    direction = query.get("order", spec.default_order[1]).lower()
    if column_name not in spec.order_by:
        raise InvalidInput("order_by", f"cannot sort by '{column_name}'; use one of {sorted(spec.order_by)}")
    if direction not in ("asc", "desc"):
        raise InvalidInput("order", "must be 'asc' or 'desc'")
    column = spec.order_by[column_name]
    ordered = column.asc() if direction == "asc" else column.desc()
    return stmt.order_by(ordered, tiebreak.asc() if direction == "asc" else tiebreak.desc())


def filtered(stmt: Select[Any], query: QueryParams, spec: FilterSpec, tiebreak: Any) -> Select[Any]:
    """Apply a spec's filters and order to a select."""
    return apply_order(stmt.where(*build_filters(query, spec)), query, spec, tiebreak)


def standard_spec(model: Any, **extra: Any) -> FilterSpec:
    """The filters every named resource shares: name, creator email, timestamps and sorting.

    Keyword arguments add to (or replace) the shared fields of the spec.
    """
    text = {"name": model.name}
    if hasattr(model, "created_by_email"):
        text["created_by_email"] = model.created_by_email
    fields: dict[str, Any] = {
        "text": text | dict(extra.pop("text", {})),
        "exact": dict(extra.pop("exact", {})),
        "ids": dict(extra.pop("ids", {})),
        "ranges": {"created_at": model.created_at, "updated_at": model.updated_at}
        | dict(extra.pop("ranges", {})),
        "order_by": {"name": model.name, "created_at": model.created_at, "updated_at": model.updated_at}
        | dict(extra.pop("order_by", {})),
    }
    return FilterSpec(**fields, **extra)
