"""Impedance spectra: what every EIS reader returns, and the plainest EIS file of all.

An EIS series has one row per frequency with ``Frequency [Hz]``, ``Z_Re [Ohm]`` and
``Z_Im [Ohm]`` (the raw imaginary part, negative on the capacitive arc; vendors that
export ``-Z''`` are negated back), ``Time [s]`` when the instrument records it (null
otherwise, as §6.1 allows for EIS rows) and ``Step count`` 0: a sweep is one step.
Vendor readers build their table and hand it to :func:`eis_series`.

This module also reads the headerless three-column text (``frequency, Z', Z''``)
that fitting tools such as impedance.py and ZView write and accept.
"""

from __future__ import annotations

import re
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import polars as pl

from cellstore.formats.base import FormatError, RawSeries, Reader
from cellstore.formats.delimited import head_text, read_text
from cellstore.formats.detect import register
from cellstore.processing import columns as c

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_TRIPLE = re.compile(rf"^\s*({_NUMBER})\s*[,;\t ]\s*({_NUMBER})\s*[,;\t ]\s*({_NUMBER})\s*$")


def eis_series(
    table: pl.DataFrame,
    *,
    family: str,
    frequency: str,
    real: str,
    imaginary: str,
    negate_imaginary: bool = False,
    time: str | None = None,
    start_time: datetime | None = None,
    test_setup: dict[str, Any] | None = None,
) -> RawSeries:
    """``table``'s impedance columns under their §6.1 names; every other column is kept as it is."""
    for name in (frequency, real, imaginary):
        if name not in table.columns:
            raise FormatError(f"{family}: no {name!r} column in the impedance table")
    z_im = pl.col(imaginary).cast(pl.Float64)
    exprs = [
        pl.col(frequency).cast(pl.Float64).alias(c.FREQUENCY),
        pl.col(real).cast(pl.Float64).alias(c.Z_RE),
        (-z_im if negate_imaginary else z_im).alias(c.Z_IM),
        (pl.col(time).cast(pl.Float64) if time and time in table.columns else pl.lit(None, pl.Float64)).alias(
            c.TIME
        ),
        pl.lit(0, pl.Int64).alias(c.STEP_COUNT),
    ]
    used = [name for name in (frequency, real, imaginary, time) if name and name in table.columns]
    frame = table.with_columns(exprs).drop(used)
    first = [c.TIME, c.FREQUENCY, c.Z_RE, c.Z_IM, c.STEP_COUNT]
    frame = frame.select(first + [name for name in frame.columns if name not in first])
    return RawSeries(frame=frame, family=family, start_time=start_time, test_setup=dict(test_setup or {}))


def numeric_table(names: list[str], rows: list[list[str]]) -> pl.DataFrame:
    """Text rows as Float64 columns (blank or unparsable cells become null)."""
    columns = [[row[i].strip() if i < len(row) else None for row in rows] for i in range(len(names))]
    frame = pl.DataFrame(columns, schema={name: pl.String for name in names}, orient="col")
    return frame.with_columns(pl.all().str.strip_chars().cast(pl.Float64, strict=False))


def _triples(lines: list[str]) -> list[tuple[str, str, str]] | None:
    rows = []
    for line in lines:
        if not line.strip():
            continue
        match = _TRIPLE.match(line)
        if match is None:
            return None
        rows.append(match.groups())
    return rows


class EisCsvReader(Reader):
    family = "eis_csv"
    label = "Impedance spectrum, three columns without header (frequency, Z', Z'')"
    extensions = (".csv", ".txt")

    def sniff(self, head: bytes, name: str) -> float:
        lines = head_text(head).split("\n")[:-1] or head_text(head).split("\n")
        rows = _triples(lines[:50])
        if not rows or len(rows) < 3:
            return 0.0
        frequencies = [float(row[0]) for row in rows]
        if min(frequencies) <= 0:
            return 0.0
        pairs = list(pairwise(frequencies))
        monotonic = all(a < b for a, b in pairs) or all(a > b for a, b in pairs)
        # three bare numbers per line say little; a monotonic positive first column is a sweep
        return 0.6 if monotonic else 0.0

    def read(self, path: Path) -> RawSeries:
        rows = _triples(read_text(path).split("\n"))
        if rows is None:
            raise FormatError(f"{path.name}: every line must hold three numbers: frequency, Z', Z''")
        table = numeric_table(["frequency", "real", "imaginary"], [list(row) for row in rows])
        return eis_series(
            table, family=self.family, frequency="frequency", real="real", imaginary="imaginary"
        )


register(EisCsvReader())
