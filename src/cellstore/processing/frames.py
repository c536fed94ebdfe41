"""Frames to the column-oriented JSON the ``/cycles`` and ``/steps_and_cycles`` endpoints send.

The client builds its DataFrames from ``{"column": [v0, v1, …]}`` objects (a list
of records would fail its validation), and JSON has no NaN or infinity, so those
become ``None``. Dates and times become ISO-8601 strings.
"""

from __future__ import annotations

from typing import Any

import polars as pl


def to_columns(df: pl.DataFrame) -> dict[str, list[Any]]:
    """``{"col": [v0, v1, …]}`` with NaN/±inf as ``None``; the input is not changed."""
    cleaned = []
    for name, dtype in df.schema.items():
        column = pl.col(name)
        if dtype.is_float():
            cleaned.append(pl.when(column.is_finite()).then(column).alias(name))
        elif isinstance(dtype, pl.Datetime):
            iso = "%Y-%m-%dT%H:%M:%S%.f" + ("%:z" if dtype.time_zone else "")
            cleaned.append(column.dt.to_string(iso).alias(name))
        elif dtype in (pl.Date, pl.Time):
            cleaned.append(column.dt.to_string().alias(name))
        elif dtype.is_decimal():
            cleaned.append(column.cast(pl.Float64).alias(name))
    return (df.with_columns(cleaned) if cleaned else df).to_dict(as_series=False)
