"""BioLogic EC-Lab / BT-Lab text exports: ``.mpt`` (with or without its header block, decimal
point or comma) and the ``;``-separated CSV export (with its ``.mpl`` log alongside).

BioLogic counts oxidation (charge of a cell on the working electrode) as positive, so the
current is negated; ``-Im(Z)`` is negated back to Im(Z). ``Ns`` is the technique's sequence
number (the cycler's step), ``cycle number`` its cycle.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from cellstore.formats.base import ColumnMap, FormatError, RawSeries, Reader
from cellstore.formats.delimited import (
    Head,
    TableStream,
    datetime_format,
    head_text,
    parse_datetime,
    parse_table,
    read_head,
    read_text,
    split_header,
)
from cellstore.formats.detect import register
from cellstore.formats.normalise import apply_column_maps
from cellstore.formats.stream import NotStreamable
from cellstore.processing import columns as c

COLUMNS = [
    ColumnMap("time/s", c.TIME),
    ColumnMap("Ewe/V", c.VOLTAGE),
    ColumnMap("Ecell/V", c.VOLTAGE),
    ColumnMap("<Ewe>/V", c.VOLTAGE),
    ColumnMap("<Ewe/V>", c.VOLTAGE),
    ColumnMap("I/mA", c.CURRENT, scale=1e-3, negate=True),
    ColumnMap("<I>/mA", c.CURRENT, scale=1e-3, negate=True),
    ColumnMap("Ns", c.STEP_FROM_CYCLER),
    ColumnMap("cycle number", c.CYCLE_FROM_CYCLER),
    ColumnMap("Q charge/mA.h", c.CHARGE_CAPACITY, scale=1e-3),
    ColumnMap("Q discharge/mA.h", c.DISCHARGE_CAPACITY, scale=1e-3),
    ColumnMap("Energy charge/W.h", c.CHARGE_ENERGY),
    ColumnMap("Energy discharge/W.h", c.DISCHARGE_ENERGY),
    ColumnMap("P/W", c.POWER, negate=True),
    ColumnMap("Temperature/°C", c.TEMPERATURE),
    ColumnMap("T/°C", c.TEMPERATURE),
    ColumnMap("freq/Hz", c.FREQUENCY),
    ColumnMap("Re(Z)/Ohm", c.Z_RE),
    ColumnMap("-Im(Z)/Ohm", c.Z_IM, negate=True),
]

_DATE_FORMATS = ("%m/%d/%Y %H:%M:%S%.f", "%m/%d/%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f")
_BANNER = re.compile(r"^(EC|BT)-Lab ASCII FILE", re.IGNORECASE)
_HEADER_LINES = re.compile(r"Nb header lines\s*:\s*(\d+)", re.IGNORECASE)


def _looks_like_columns(line: str, separator: str) -> bool:
    names = set(split_header(line.replace("\ufffd", "°"), separator))
    return "time/s" in names and bool(names & {"Ewe/V", "Ecell/V", "<Ewe>/V", "I/mA", "<I>/mA", "<Ewe/V>"})


def _metadata(lines: list[str]) -> tuple[dict, dict, datetime | None]:
    setup: dict = {"cycler": "BioLogic"}
    protocol: dict = {}
    start_time = None
    techniques = []
    for line in lines:
        key, _, value = line.partition(" : ")
        key, value = key.strip(), value.strip()
        if key == "Run on channel":
            setup["channel_number"] = value
        elif key == "Device":
            setup["device"] = value
        elif key == "Acquisition started on" and start_time is None:
            try:
                start_time = parse_datetime(pl.Series([value]), _DATE_FORMATS)[0]
            except FormatError:
                start_time = None
        elif (key == "Saved on" or key == "File") and value:
            setup.setdefault("file", value)
    for line in lines[1:8]:
        text = line.strip()
        if text and " : " not in text and not _HEADER_LINES.search(text) and not _BANNER.match(text):
            techniques.append(text)
    if techniques:
        protocol["name"] = techniques[0]
    return setup, protocol, start_time


def _table(lines: list[str], header: list[str], separator: str) -> pl.DataFrame:
    data = [line for line in lines if line.strip()]
    header, decimal_comma = _dialect(data, header, separator)
    return parse_table(data, header, separator=separator, decimal_comma=decimal_comma, keep_text=("time/s",))


def _dialect(data: list[str], header: list[str], separator: str) -> tuple[list[str], bool]:
    """The header as the rows hold it, and whether numbers have a decimal comma (from the first rows)."""
    decimal_comma = bool(data) and separator != "," and bool(re.search(r"\d,\d", data[0]))
    widest = max((len(split_header(line, separator)) for line in data[:200]), default=len(header))
    if widest < len(header):
        # EC-Lab's impedance exports list a few columns the rows do not hold, before the real ones.
        header = header[len(header) - widest :]
    return [name.replace("\ufffd", "°") for name in header], decimal_comma


def _raw(table: pl.DataFrame, family: str, setup: dict, protocol: dict, start: datetime | None) -> RawSeries:
    frame = _frame(table, family, _time_format(table, family))
    return RawSeries(frame=frame, family=family, start_time=start, test_setup=setup, protocol=protocol)


def _time_format(table: pl.DataFrame, family: str) -> str | None:
    """``None`` when ``time/s`` holds seconds, else the format of its timestamps (BT-Lab)."""
    frame = apply_column_maps(table, COLUMNS)
    if c.TIME not in frame.columns:
        raise FormatError(f"{family}: no time/s column.")
    if frame.schema[c.TIME] != pl.String:
        return None
    text = frame[c.TIME].str.strip_chars().replace("", None)
    seconds = text.str.replace(",", ".", literal=True).cast(pl.Float64, strict=False)
    if seconds.null_count() == text.null_count():
        return None
    return datetime_format(text, _DATE_FORMATS)


def _frame(table: pl.DataFrame, family: str, time_format: str | None, *, check: bool = False) -> pl.DataFrame:
    frame = apply_column_maps(table, COLUMNS)
    if c.TIME not in frame.columns:
        raise FormatError(f"{family}: no time/s column.")
    if frame.schema[c.TIME] == pl.String:
        text = frame[c.TIME].str.strip_chars().replace("", None)
        if time_format is None:
            seconds = text.str.replace(",", ".", literal=True).cast(pl.Float64, strict=False)
        else:
            seconds = text.str.strptime(pl.Datetime("us"), time_format, strict=False)
        if check and seconds.null_count() != text.null_count():
            raise NotStreamable("time/s changes form after the first rows")
        frame = frame.with_columns(seconds.alias(c.TIME))
    return frame


def _batches(
    path: Path,
    head: Head,
    start_line: int,
    header: list[str],
    separator: str,
    first: tuple[str, dict, dict, datetime | None],
    options: dict[str, Any],
) -> Iterator[RawSeries]:
    data = [line for line in head.lines[start_line:] if line.strip()]
    if not head.complete and len(data) < 201:
        raise NotStreamable("fewer than 200 rows in the first megabyte")
    header, decimal_comma = _dialect(data, header, separator)
    stream = TableStream(
        path,
        head.offset(start_line),
        header,
        separator=separator,
        decimal_comma=decimal_comma,
        keep_text=("time/s",),
        encoding=head.encoding,
        **options,
    )
    family, setup, protocol, start = first
    time_format = _time_format(stream.sample, family)
    for table in stream:
        frame = _frame(table, family, time_format, check=True)
        yield RawSeries(frame=frame, family=family, start_time=start, test_setup=setup, protocol=protocol)


class BiologicMptReader(Reader):
    family = "biologic_mpt"
    label = "BioLogic EC-Lab/BT-Lab text export (.mpt)"
    extensions = (".mpt", ".txt")

    def sniff(self, head: bytes, name: str) -> float:
        text = head_text(head)
        first = text.split("\n", 1)[0]
        if _BANNER.match(first):
            return 0.9
        return 0.85 if _looks_like_columns(first, "\t") else 0.0

    def read(self, path: Path) -> RawSeries:
        lines = read_text(path).split("\n")
        if _BANNER.match(lines[0]):
            match = _HEADER_LINES.search(lines[1]) if len(lines) > 1 else None
            if match is None:
                raise FormatError(f"{path.name}: EC-Lab file without a 'Nb header lines' line.")
            count = int(match.group(1))
            if count < 1 or count > len(lines):
                raise FormatError(
                    f"{path.name}: says it has {count} header lines but has {len(lines)} lines."
                )
            preamble, header_line, body = lines[: count - 1], lines[count - 1], lines[count:]
        else:
            preamble, header_line, body = [], lines[0], lines[1:]
        if not _looks_like_columns(header_line, "\t") and "time/s" not in header_line:
            raise FormatError(f"{path.name}: no BioLogic column header where expected.")
        setup, protocol, start = _metadata(preamble)
        table = _table(body, split_header(header_line, "\t"), "\t")
        return _raw(table, self.family, setup, protocol, start)

    def read_batches(self, path: Path, **options: Any) -> Iterator[RawSeries]:
        """:meth:`read` in batches (:mod:`cellstore.formats.stream`)."""
        head = read_head(path)
        lines = head.lines
        if _BANNER.match(lines[0]):
            match = _HEADER_LINES.search(lines[1]) if len(lines) > 1 else None
            if match is None or not 1 <= int(match.group(1)) < len(lines):
                raise NotStreamable("no usable 'Nb header lines'")
            count = int(match.group(1))
            preamble, header_line = lines[: count - 1], lines[count - 1]
        else:
            count, preamble, header_line = 1, [], lines[0]
        if not _looks_like_columns(header_line, "\t") and "time/s" not in header_line:
            raise NotStreamable("no BioLogic column header")
        setup, protocol, start = _metadata(preamble)
        header = split_header(header_line, "\t")
        yield from _batches(path, head, count, header, "\t", (self.family, setup, protocol, start), options)


class BiologicCsvReader(Reader):
    family = "biologic_csv"
    label = "BioLogic EC-Lab/BT-Lab CSV export"
    extensions = (".csv",)

    def sniff(self, head: bytes, name: str) -> float:
        first = head_text(head).split("\n", 1)[0]
        for separator in (";", ","):
            if first.count(separator) > 3 and _looks_like_columns(first, separator):
                return 0.9
        return 0.0

    def read(self, path: Path) -> RawSeries:
        lines = read_text(path).split("\n")
        separator = ";" if lines[0].count(";") > lines[0].count(",") else ","
        if not _looks_like_columns(lines[0], separator):
            raise FormatError(f"{path.name}: the first line is not a BioLogic column header.")
        header = [name or "index" for name in lines[0].rstrip(separator).split(separator)]
        table = _table(lines[1:], header, separator)
        setup, protocol, start = _log(path)
        return _raw(table, self.family, setup, protocol, start)

    def read_batches(self, path: Path, **options: Any) -> Iterator[RawSeries]:
        """:meth:`read` in batches (:mod:`cellstore.formats.stream`)."""
        head = read_head(path)
        first = head.lines[0]
        separator = ";" if first.count(";") > first.count(",") else ","
        if not _looks_like_columns(first, separator):
            raise NotStreamable("no BioLogic column header")
        header = [name or "index" for name in first.rstrip(separator).split(separator)]
        setup, protocol, start = _log(path)
        yield from _batches(path, head, 1, header, separator, (self.family, setup, protocol, start), options)


def _log(path: Path) -> tuple[dict, dict, datetime | None]:
    """What the ``.mpl`` log beside a CSV export says."""
    log = path.with_suffix(".mpl")
    if log.exists():
        return _metadata(read_text(log).split("\n"))
    return {"cycler": "BioLogic"}, {}, None


register(BiologicMptReader())
register(BiologicCsvReader())
