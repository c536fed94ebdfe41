"""BioLogic EC-Lab / BT-Lab text exports: ``.mpt`` (with or without its header block, decimal
point or comma) and the ``;``-separated CSV export (with its ``.mpl`` log alongside).

BioLogic counts oxidation (charge of a cell on the working electrode) as positive, so the
current is negated; ``-Im(Z)`` is negated back to Im(Z). ``Ns`` is the technique's sequence
number (the cycler's step), ``cycle number`` its cycle.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import polars as pl

from cellstore.formats.base import ColumnMap, FormatError, RawSeries, Reader
from cellstore.formats.delimited import head_text, parse_datetime, parse_table, read_text, split_header
from cellstore.formats.detect import register
from cellstore.formats.normalise import apply_column_maps
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
    decimal_comma = bool(data) and separator != "," and bool(re.search(r"\d,\d", data[0]))
    widest = max((len(split_header(line, separator)) for line in data[:200]), default=len(header))
    if widest < len(header):
        # EC-Lab's impedance exports list a few columns the rows do not hold, before the real ones.
        header = header[len(header) - widest :]
    header = [name.replace("\ufffd", "°") for name in header]
    return parse_table(data, header, separator=separator, decimal_comma=decimal_comma, keep_text=("time/s",))


def _raw(table: pl.DataFrame, family: str, setup: dict, protocol: dict, start: datetime | None) -> RawSeries:
    frame = apply_column_maps(table, COLUMNS)
    if c.TIME not in frame.columns:
        raise FormatError(f"{family}: no time/s column.")
    if frame.schema[c.TIME] == pl.String:
        text = frame[c.TIME].str.strip_chars().replace("", None)
        seconds = text.str.replace(",", ".", literal=True).cast(pl.Float64, strict=False)
        if seconds.null_count() == text.null_count():
            frame = frame.with_columns(seconds.alias(c.TIME))
        else:  # absolute timestamps (BT-Lab writes the date in the 'time/s' column)
            frame = frame.with_columns(parse_datetime(text, _DATE_FORMATS).alias(c.TIME))
    return RawSeries(frame=frame, family=family, start_time=start, test_setup=setup, protocol=protocol)


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
        setup, protocol, start = {"cycler": "BioLogic"}, {}, None
        log = path.with_suffix(".mpl")
        if log.exists():
            setup, protocol, start = _metadata(read_text(log).split("\n"))
        return _raw(table, self.family, setup, protocol, start)


register(BiologicMptReader())
register(BiologicCsvReader())
