"""Arbin exports: MITS Pro / TRI-style CSV and the Excel export (one sheet per channel).

Arbin counts charge current as positive, so current is negated; capacities and energies
are cumulative per cycle (normalise resets them per step). A ``<name>_Metadata.csv``
next to a CSV (Arbin's Global_Table as TRI exports it) adds the schedule and channel.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from cellstore.formats.base import ColumnMap, FormatError, RawSeries, Reader
from cellstore.formats.delimited import (
    TableStream,
    head_text,
    numeric,
    parse_datetime,
    parse_table,
    read_head,
    read_text,
    split_header,
)
from cellstore.formats.detect import register
from cellstore.formats.normalise import apply_column_maps
from cellstore.formats.spreadsheet import read_sheets, sheet_names
from cellstore.formats.stream import NotStreamable
from cellstore.processing import columns as c

COLUMNS = [
    ColumnMap("Test_Time", c.TIME),
    ColumnMap("Test Time (s)", c.TIME),
    ColumnMap("Test_Time(s)", c.TIME),
    ColumnMap("Voltage", c.VOLTAGE),
    ColumnMap("Voltage (V)", c.VOLTAGE),
    ColumnMap("Voltage(V)", c.VOLTAGE),
    ColumnMap("Current", c.CURRENT, negate=True),
    ColumnMap("Current (A)", c.CURRENT, negate=True),
    ColumnMap("Current(A)", c.CURRENT, negate=True),
    ColumnMap("Step_Index", c.STEP_FROM_CYCLER),
    ColumnMap("Step Index", c.STEP_FROM_CYCLER),
    ColumnMap("Cycle_Index", c.CYCLE_FROM_CYCLER),
    ColumnMap("Cycle Index", c.CYCLE_FROM_CYCLER),
    ColumnMap("Charge_Capacity", c.CHARGE_CAPACITY),
    ColumnMap("Charge Capacity (Ah)", c.CHARGE_CAPACITY),
    ColumnMap("Charge_Capacity(Ah)", c.CHARGE_CAPACITY),
    ColumnMap("Discharge_Capacity", c.DISCHARGE_CAPACITY),
    ColumnMap("Discharge Capacity (Ah)", c.DISCHARGE_CAPACITY),
    ColumnMap("Discharge_Capacity(Ah)", c.DISCHARGE_CAPACITY),
    ColumnMap("Charge_Energy", c.CHARGE_ENERGY),
    ColumnMap("Charge Energy (Wh)", c.CHARGE_ENERGY),
    ColumnMap("Charge_Energy(Wh)", c.CHARGE_ENERGY),
    ColumnMap("Discharge_Energy", c.DISCHARGE_ENERGY),
    ColumnMap("Discharge Energy (Wh)", c.DISCHARGE_ENERGY),
    ColumnMap("Discharge_Energy(Wh)", c.DISCHARGE_ENERGY),
    ColumnMap("Power (W)", c.POWER, negate=True),
    ColumnMap("Power(W)", c.POWER, negate=True),
    ColumnMap("Temperature", c.TEMPERATURE),
    ColumnMap("Aux_Temperature_1 (C)", c.TEMPERATURE),
    ColumnMap("Aux_Temperature_1(C)", c.TEMPERATURE),
]

_TEXT = ("Date Time", "Date_Time")
_DATE_FORMATS = ("%m/%d/%Y %H:%M:%S%.f", "%m/%d/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M:%S")


def _key(name: str) -> str:
    return "".join(name.split()).lower().replace("_", "")


def _is_arbin_header(names: list[str]) -> bool:
    keys = {_key(n) for n in names}
    return (
        any(k.startswith("datapoint") for k in keys)
        and any(k.startswith("testtime") for k in keys)
        and any(k.startswith("stepindex") for k in keys)
        and any(k.startswith("current") for k in keys)
    )


def _start_time(frame: pl.DataFrame) -> datetime | None:
    """Wall-clock time of the first row minus its test time (unix seconds or text dates)."""
    by_key = {_key(n): n for n in frame.columns}
    date = by_key.get("datetime")
    if date is None or c.TIME not in frame.columns or frame.height == 0:
        return None
    values = frame[date]
    if values.dtype.is_numeric():
        first = values.cast(pl.Float64)[0]
        moment = None if first is None else datetime.fromtimestamp(first, tz=UTC)
    else:
        if values.dtype != pl.Datetime:
            values = parse_datetime(values.cast(pl.String).str.strip_chars(), _DATE_FORMATS)
        moment = values[0]
    offset = frame[c.TIME][0]
    if moment is None or offset is None:
        return None
    return pl.select(pl.lit(moment) - pl.duration(seconds=offset)).item()


def to_raw(table: pl.DataFrame, family: str) -> RawSeries:
    frame = apply_column_maps(table, COLUMNS)
    missing = [n for n in (c.TIME, c.VOLTAGE, c.CURRENT) if n not in frame.columns]
    if missing:
        raise FormatError(f"{family}: no Arbin column for {', '.join(missing)}.")
    return RawSeries(frame=frame, family=family, start_time=_start_time(frame))


def _metadata(path: Path) -> tuple[dict, dict]:
    sidecar = path.with_name(f"{path.stem}_Metadata{path.suffix}")
    if not sidecar.exists():
        return {}, {}
    try:
        row = pl.read_csv(sidecar, infer_schema=False).row(0, named=True)
    except (pl.exceptions.PolarsError, IndexError):
        return {}, {}
    row = {k.lower(): v for k, v in row.items()}
    setup = {"cycler": "Arbin"}
    for source, target in (
        ("iv_ch_id", "channel_number"),
        ("device_id", "serial_number"),
        ("test_id", "test_id"),
    ):
        if row.get(source):
            setup[target] = row[source]
    protocol = {"name": row["schedule_file_name"]} if row.get("schedule_file_name") else {}
    return setup, protocol


class ArbinCsvReader(Reader):
    family = "arbin_csv"
    label = "Arbin CSV export"
    extensions = (".csv",)

    def sniff(self, head: bytes, name: str) -> float:
        lines = head_text(head).split("\n", 1)
        header = split_header(lines[0], ",")
        return 0.9 if _is_arbin_header(header) else 0.0

    def read(self, path: Path) -> RawSeries:
        lines = read_text(path).split("\n")
        header = split_header(lines[0], ",")
        if not _is_arbin_header(header):
            raise FormatError(f"{path.name}: the first line is not an Arbin header.")
        table = parse_table(lines[1:], header, separator=",", keep_text=_TEXT)
        raw = to_raw(table, self.family)
        raw.test_setup, raw.protocol = _metadata(path)
        raw.test_setup.setdefault("cycler", "Arbin")
        return raw

    def read_batches(self, path: Path, **options: Any) -> Iterator[RawSeries]:
        """:meth:`read` in batches (:mod:`cellstore.formats.stream`)."""
        head = read_head(path)
        header = split_header(head.lines[0], ",")
        if not _is_arbin_header(header):
            raise NotStreamable("not an Arbin header")  # read() says so in words
        stream = TableStream(
            path, head.offset(1), header, separator=",", keep_text=_TEXT, encoding=head.encoding, **options
        )
        first = to_raw(stream.sample, self.family)
        first.test_setup, first.protocol = _metadata(path)
        first.test_setup.setdefault("cycler", "Arbin")
        for table in stream:
            yield RawSeries(
                frame=apply_column_maps(table, COLUMNS),
                family=self.family,
                start_time=first.start_time,
                test_setup=first.test_setup,
                protocol=first.protocol,
            )


class ArbinXlsxReader(Reader):
    family = "arbin_xlsx"
    label = "Arbin Excel export (.xlsx)"
    extensions = (".xlsx",)

    def sniff(self, head: bytes, name: str) -> float:
        names = sheet_names(head)
        if names is None:
            return 0.0
        if any(n.lower().startswith(("channel", "global_info")) for n in names):
            return 0.9
        return 0.3 if name.lower().endswith(".xlsx") else 0.0

    def read(self, path: Path) -> RawSeries:
        sheets = [
            (n, t)
            for n, t in read_sheets(path)
            if n.lower().startswith("channel") and _is_arbin_header(t.columns)
        ]
        if not sheets:
            raise FormatError(f"{path.name}: no 'Channel…' sheet with Arbin columns.")
        table = numeric(pl.concat([t for _, t in sheets], how="diagonal_relaxed"))
        raw = to_raw(table, self.family)
        raw.test_setup = {"cycler": "Arbin", "channel_number": sheets[0][0].split("_", 1)[-1]}
        return raw


register(ArbinCsvReader())
register(ArbinXlsxReader())
