"""Delimited text tables as cycler software writes them: a preamble, a header row, data rows.

Shared by the text readers so that every family handles the same damage the same way:
a byte-order mark, undecodable bytes (kept as U+FFFD), decimal commas, blank lines,
quoted whole lines, trailing separators, and rows wider than the header (the extra
fields become ``column_<i>`` columns rather than being lost).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import polars as pl

from cellstore.formats.base import FormatError
from cellstore.formats.normalise import unique_names


def decode(data: bytes) -> str:
    """Text of a file: UTF-8 (with or without BOM), else cp1252/latin-1; line ends made ``\\n``."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16").replace("\r\n", "\n").replace("\r", "\n")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def head_text(head: bytes) -> str:
    """The sniffed bytes as text (a cut multi-byte character at the end is harmless)."""
    return decode(head)


def read_text(path: Path) -> str:
    try:
        return decode(path.read_bytes())
    except OSError as error:
        raise FormatError(f"{path.name}: cannot be read ({error.strerror}).") from error


def split_header(line: str, separator: str) -> list[str]:
    names = line.split(separator)
    while names and not names[-1].strip():
        names.pop()
    return [name.strip().strip('"') for name in names]


def parse_table(
    lines: list[str],
    header: list[str],
    *,
    separator: str,
    decimal_comma: bool = False,
    keep_text: tuple[str, ...] = (),
) -> pl.DataFrame:
    """The data ``lines`` as a frame named by ``header``; numeric-looking columns become numbers.

    Columns named in ``keep_text`` stay text (timestamps, state letters). Extra fields
    beyond the header become ``column_<i>``; extra columns that are empty throughout
    (a trailing separator) are left out, as are blank lines.
    """
    lines = [line for line in lines if line.strip()]
    width = max([len(header), *(line.count(separator) + 1 for line in lines)])
    names = unique_names([*header, *(f"column_{i}" for i in range(len(header), width))])
    if not lines:
        return pl.DataFrame(
            {name: [] for name in names[: len(header)]}, schema=dict.fromkeys(names, pl.String)
        )
    frame = pl.read_csv(
        io.StringIO("\n".join(lines)).read().encode(),
        has_header=False,
        new_columns=names,
        schema=dict.fromkeys(names, pl.String),
        separator=separator,
        quote_char='"',
        truncate_ragged_lines=True,
    )
    extra = [
        n
        for n in names[len(header) :]
        if frame[n].str.strip_chars().replace("", None).null_count() == frame.height
    ]
    frame = frame.drop(extra)
    return numeric(frame, decimal_comma=decimal_comma, keep_text=keep_text)


_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def numeric(
    frame: pl.DataFrame, *, decimal_comma: bool = False, keep_text: tuple[str, ...] = ()
) -> pl.DataFrame:
    """Text columns whose every non-blank value is a number become Float64 (Int64 if all whole)."""
    exprs = []
    keep = {name.lower() for name in keep_text}
    for name, dtype in frame.schema.items():
        if dtype != pl.String or name.lower() in keep:
            continue
        text = pl.col(name).str.strip_chars().replace("", None)
        if decimal_comma:
            text = text.str.replace(",", ".", literal=True)
        values = frame.select(text).to_series().drop_nulls()
        if values.len() == 0:
            exprs.append(pl.lit(None, dtype=pl.Float64).alias(name))
            continue
        if not values.str.contains(_NUMBER.pattern).all():
            continue
        if values.str.contains(r"^[+-]?\d+$").all():
            exprs.append(text.cast(pl.Int64, strict=False).alias(name))
        else:
            exprs.append(text.cast(pl.Float64).alias(name))
    return frame.with_columns(exprs) if exprs else frame


def find_line(lines: list[str], predicate, *, limit: int = 500) -> int:
    """Index of the first line (within ``limit``) for which ``predicate`` holds, else -1."""
    for i, line in enumerate(lines[:limit]):
        if predicate(line):
            return i
    return -1


def key_values(lines: list[str], separators: tuple[str, ...] = (":", "\t", ",")) -> dict[str, str]:
    """``key: value`` pairs of a preamble (first separator found wins; empty values kept)."""
    pairs: dict[str, str] = {}
    for line in lines:
        for separator in separators:
            if separator in line:
                key, _, value = line.partition(separator)
                key = key.strip().strip('"~').rstrip(":").strip()
                if key and key not in pairs:
                    pairs[key] = value.strip().strip(",\t").strip()
                break
    return pairs


def sniff_separator(line: str, candidates: str = "\t;,") -> str:
    """The candidate separator occurring most often in ``line``."""
    return max(candidates, key=line.count)


def parse_datetime(series: pl.Series, formats: tuple[str, ...]) -> pl.Series:
    """Text timestamps parsed with the first of ``formats`` that reads every non-blank value."""
    text = series.cast(pl.String).str.strip_chars().replace("", None)
    for fmt in formats:
        parsed = text.str.strptime(pl.Datetime("us"), fmt, strict=False)
        if parsed.null_count() == text.null_count():
            return parsed
    raise FormatError(
        f"column {series.name!r}: timestamps in an unknown format (e.g. {text.drop_nulls()[:1].to_list()})"
    )
