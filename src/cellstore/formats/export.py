"""A normalised series written out as a file people can take elsewhere: BDF, CSV or parquet."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

import polars as pl

from cellstore.formats.bdf import to_bdf

ExportFormat = Literal["bdf.csv", "bdf.parquet", "csv", "parquet"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("bdf.csv", "bdf.parquet", "csv", "parquet")
MEDIA_TYPES = {
    "bdf.csv": "text/csv",
    "bdf.parquet": "application/vnd.apache.parquet",
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
}


def write_export(
    frame: pl.DataFrame, start_time: datetime | None, export_format: ExportFormat, out: Path
) -> None:
    """``frame`` (§6.1 columns) written to ``out`` in ``export_format``; BDF flips the current's sign
    and counts capacities from test start (:mod:`cellstore.formats.bdf`)."""
    table = to_bdf(frame, start_time) if export_format.startswith("bdf.") else frame
    if export_format.endswith("csv"):
        table.write_csv(out)
    else:
        table.write_parquet(out, compression="zstd")
