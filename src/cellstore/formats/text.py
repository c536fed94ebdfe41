"""Small helpers the readers share for looking at a file's first bytes and opening CSV and parquet tables."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from cellstore.formats.base import FormatError

PARQUET_MAGIC = b"PAR1"


def first_line(head: bytes) -> str:
    """The first line of a text file, without a byte-order mark; empty for binary content."""
    if b"\x00" in head[:4096]:
        return ""
    text = head.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    return text.lstrip("\ufeff").strip()


def is_parquet(head: bytes) -> bool:
    return head.startswith(PARQUET_MAGIC)


def read_csv(path: Path, what: str) -> pl.DataFrame:
    """A plain CSV with one header row; ``what`` names the kind of file in the error message."""
    try:
        return pl.read_csv(path, infer_schema_length=10_000)
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as exc:
        raise FormatError(f"unreadable {what}: {exc}") from None


def read_parquet(path: Path) -> pl.DataFrame:
    try:
        return pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise FormatError(f"unreadable parquet file: {exc}") from None
