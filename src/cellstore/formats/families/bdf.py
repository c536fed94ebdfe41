"""Battery Data Format files (``.bdf``, ``.bdf.csv``, ``.bdf.parquet``): see :mod:`cellstore.formats.bdf`."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from cellstore.formats import bdf
from cellstore.formats.base import FormatError, RawSeries, Reader
from cellstore.formats.detect import register
from cellstore.formats.text import first_line, is_parquet, read_csv, read_parquet


def _series(table: pl.DataFrame, family: str) -> RawSeries:
    try:
        frame, start_time = bdf.bdf_to_series(table)
    except ValueError as exc:
        raise FormatError(str(exc)) from None
    return RawSeries(frame=frame, family=family, start_time=start_time, capacity_per_step=False)


class BdfCsvReader(Reader):
    family = "bdf_csv"
    label = "Battery Data Format (.bdf, .bdf.csv)"
    extensions = (".bdf", ".csv")

    def sniff(self, head: bytes, name: str) -> float:
        header = first_line(head)
        return 0.95 if all(column in header for column in bdf.REQUIRED) else 0.0

    def read(self, path: Path) -> RawSeries:
        return _series(read_csv(path, "BDF CSV"), self.family)


class BdfParquetReader(Reader):
    family = "bdf_parquet"
    label = "Battery Data Format parquet (.bdf.parquet)"
    extensions = (".parquet",)

    def sniff(self, head: bytes, name: str) -> float:
        return 0.9 if is_parquet(head) and ".bdf." in name.lower() else 0.0

    def read(self, path: Path) -> RawSeries:
        return _series(read_parquet(path), self.family)


register(BdfCsvReader())
register(BdfParquetReader())
