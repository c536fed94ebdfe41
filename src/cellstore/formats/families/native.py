"""Series already in cellstore's own columns (§6.1), as CSV or parquet: what a person exports from a
notebook. A parquet file that turns out to hold BDF columns is read as BDF."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from cellstore.formats import bdf
from cellstore.formats.base import FormatError, RawSeries, Reader
from cellstore.formats.detect import register
from cellstore.formats.text import first_line, is_parquet, read_csv, read_parquet
from cellstore.processing import columns as c

#: Two of these in a CSV header make it a cellstore series.
MARKERS = (c.TIME, c.VOLTAGE, c.CURRENT, c.STEP_COUNT)


def _series(frame: pl.DataFrame, family: str) -> RawSeries:
    if all(column in frame.columns for column in bdf.REQUIRED):
        table, start_time = bdf.bdf_to_series(frame)
        return RawSeries(frame=table, family="bdf_parquet", start_time=start_time, capacity_per_step=False)
    if sum(column in frame.columns for column in MARKERS) < 2:
        raise FormatError(
            "the table has neither cellstore's columns (Time [s], Voltage [V], Current [A], Step count) "
            f"nor BDF's; it has: {', '.join(frame.columns[:12])}"
        )
    return RawSeries(frame=frame, family=family, capacity_per_step=True)


class NativeCsvReader(Reader):
    family = "cellstore_csv"
    label = "CSV with cellstore's columns (Time [s], Voltage [V], Current [A], Step count)"
    extensions = (".csv",)

    def sniff(self, head: bytes, name: str) -> float:
        header = first_line(head)
        found = sum(f'"{column}"' in header or column in header.split(",") for column in MARKERS)
        return 0.9 if found >= 2 else 0.0

    def read(self, path: Path) -> RawSeries:
        return _series(read_csv(path, "CSV"), self.family)


class NativeParquetReader(Reader):
    family = "cellstore_parquet"
    label = "Parquet with cellstore's or BDF's columns"
    extensions = (".parquet",)

    def sniff(self, head: bytes, name: str) -> float:
        return 0.7 if is_parquet(head) else 0.0

    def read(self, path: Path) -> RawSeries:
        return _series(read_parquet(path), self.family)


register(NativeCsvReader())
register(NativeParquetReader())
