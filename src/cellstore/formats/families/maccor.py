"""Maccor text and CSV exports (MIMS "Export" dialects), not the native ``.0NN`` files.

Dialects seen in practice: a ``Today's Date`` / ``Date of Test`` preamble then ``Rec#  Cyc#
Step  TestTime ...`` (``TestTime`` as ``0d 00:00:05``); a ``Name: / Channel: / Tester``
key-value preamble then ``Rec  Cycle P  Cycle C ... Cap. [Ah]`` (``TestTime`` in minutes);
milli-units (``mAmps``, ``mAmp-hr``, volts written in mV); and a comma-separated export with
``Test Time (sec)``. Maccor writes the current unsigned with a state letter (C, D, R…),
or signed with charge positive; capacity and energy are one counter each.
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
    TableStream,
    head_text,
    parse_datetime,
    parse_table,
    read_head,
    read_text,
    split_header,
)
from cellstore.formats.detect import register
from cellstore.formats.normalise import (
    CAPACITY_FROM_CYCLER,
    ENERGY_FROM_CYCLER,
    apply_column_maps,
    duration_seconds,
)
from cellstore.formats.stream import NotStreamable
from cellstore.processing import columns as c

COLUMNS = [
    ColumnMap("Test Time (sec)", c.TIME),
    ColumnMap("Test (Sec)", c.TIME),
    ColumnMap("Test (Min)", c.TIME, scale=60.0),
    ColumnMap("Volts", c.VOLTAGE),
    ColumnMap("Voltage [V]", c.VOLTAGE),
    ColumnMap("Voltage", c.VOLTAGE),
    ColumnMap("Amps", c.CURRENT),
    ColumnMap("Current [A]", c.CURRENT),
    ColumnMap("Current", c.CURRENT),
    ColumnMap("mAmps", c.CURRENT, scale=1e-3),
    ColumnMap("Step", c.STEP_FROM_CYCLER),
    ColumnMap("Cyc#", c.CYCLE_FROM_CYCLER),
    ColumnMap("Cycle C", c.CYCLE_FROM_CYCLER),
    ColumnMap("Amp-hr", CAPACITY_FROM_CYCLER),
    ColumnMap("Cap. [Ah]", CAPACITY_FROM_CYCLER),
    ColumnMap("Capacity", CAPACITY_FROM_CYCLER),
    ColumnMap("mAmp-hr", CAPACITY_FROM_CYCLER, scale=1e-3),
    ColumnMap("Watt-hr", ENERGY_FROM_CYCLER),
    ColumnMap("Ener. [Wh]", ENERGY_FROM_CYCLER),
    ColumnMap("Energy", ENERGY_FROM_CYCLER),
    ColumnMap("mWatt-hr", ENERGY_FROM_CYCLER, scale=1e-3),
    ColumnMap("Temp 1", c.TEMPERATURE),
]

_DATE_FORMATS = (
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %H:%M:%S",
    "%d-%b-%y %I:%M:%S %p",
    "%d %B %Y, %I:%M:%S %p",
    "%m/%d/%Y",
)
_STATE_COLUMNS = ("State", "Md")
_TEXT = ("TestTime", "StepTime", "DPt Time")


def _is_header(line: str) -> bool:
    names = {n.strip().lower() for n in re.split(r"[\t,]", line)}
    return (
        bool(names & {"rec#", "rec"})
        and "step" in names
        and bool(names & {"cyc#", "cycle c", "cycle p"})
        and any(n.startswith("test") for n in names)
    )


def _header_index(lines: list[str]) -> int:
    for i, line in enumerate(lines[:60]):
        if _is_header(line):
            return i
    return -1


def _seconds(table: pl.DataFrame, scale: float | None = None) -> pl.DataFrame:
    """``TestTime`` as seconds: duration text, or a number whose unit the wall clock tells.

    ``scale`` (seconds per unit) is found from ``table`` itself unless given (a later batch of
    a file takes the one its first rows gave).
    """
    by_lower = {n.lower(): n for n in table.columns}
    name = by_lower.get("testtime")
    if name is None:
        return table
    values = table[name]
    if values.dtype == pl.String:
        return table.with_columns(duration_seconds(pl.col(name)).alias(c.TIME)).drop(name)
    seconds = values.cast(pl.Float64)
    if scale is None:
        scale = _time_scale(table)
    return table.with_columns((seconds * scale).alias(c.TIME)).drop(name)


def _time_scale(table: pl.DataFrame) -> float:
    """Seconds per unit of a numeric ``TestTime``: the one that makes its span the wall clock's."""
    by_lower = {n.lower(): n for n in table.columns}
    name = by_lower.get("testtime")
    clock_name = by_lower.get("dpt time") or by_lower.get("dpt time ")
    scale = 1.0
    if name is None or table[name].dtype == pl.String:
        return scale
    seconds = table[name].cast(pl.Float64)
    if clock_name is not None and table.height > 1:
        try:
            clock = parse_datetime(table[clock_name], _DATE_FORMATS)
            wall = (clock[-1] - clock[0]).total_seconds()
            span = seconds[-1] - seconds[0]
            if span and wall:
                scale = min((1.0, 60.0, 3600.0), key=lambda s: abs(span * s - wall))
        except (FormatError, TypeError):
            pass
    return scale


def _signed_current(frame: pl.DataFrame) -> pl.DataFrame:
    state = next((n for n in _STATE_COLUMNS if n in frame.columns), None)
    current = pl.col(c.CURRENT).cast(pl.Float64)
    if state is None:  # signed, charge positive
        return frame.with_columns(-current)
    letter = pl.col(state).cast(pl.String).str.strip_chars().str.to_uppercase()
    return frame.with_columns(
        pl.when(letter == "D").then(current.abs()).when(letter == "C").then(-current.abs()).otherwise(current)
    )


def _start_time(preamble: list[str]) -> datetime | None:
    text = "\n".join(preamble)
    match = re.search(r"(?:Date of Test:?|Started)[\t ,]+([^\t\n]+?)\s*(?:\t|$|\n)", text, re.MULTILINE)
    if match is None:
        return None
    try:
        return parse_datetime(pl.Series([match.group(1).strip(" ,")]), _DATE_FORMATS)[0]
    except FormatError:
        return None


def _metadata(preamble: list[str]) -> tuple[dict, dict]:
    cells = [cell.strip() for line in preamble for cell in re.split(r"\t|,", line)]
    pairs = {}
    for key, value in zip(cells, [*cells[1:], ""], strict=False):
        pairs.setdefault(key.rstrip(":").strip().lower(), value)
    setup: dict = {"cycler": "Maccor"}
    for key, target in (
        ("channel", "channel_number"),
        ("tester channel", "channel_number"),
        ("tester", "tester"),
    ):
        if pairs.get(key):
            setup.setdefault(target, pairs[key])
    for key in ("filename", "name"):
        if pairs.get(key):
            setup.setdefault("test_name", pairs[key])
    procedure = pairs.get("procedure")
    return setup, ({"name": procedure} if procedure else {})


class MaccorTextReader(Reader):
    family = "maccor_txt"
    label = "Maccor text/CSV export (.txt, .csv)"
    extensions = (".txt", ".csv")

    def sniff(self, head: bytes, name: str) -> float:
        if _header_index(head_text(head).split("\n")) < 0:
            return 0.0
        # Native MIMS files (.001, .034 …) have the same columns; their own reader should win.
        return 0.6 if re.search(r"\.\d{3}$", name) else 0.85

    def read(self, path: Path) -> RawSeries:
        lines = read_text(path).split("\n")
        index = _header_index(lines)
        if index < 0:
            raise FormatError(f"{path.name}: no Maccor column header (Rec, Cyc#/Cycle C, Step, TestTime).")
        separator, header = _layout(lines[index])
        table = parse_table(lines[index + 1 :], header, separator=separator, keep_text=_TEXT)
        frame = self._frame(_seconds(table), path)
        if _millivolts(header, frame):
            frame = frame.with_columns(pl.col(c.VOLTAGE) * 1e-3)
        return self._raw(_signed_current(frame), lines[:index])

    def read_batches(self, path: Path, **options: Any) -> Iterator[RawSeries]:
        """:meth:`read` in batches (:mod:`cellstore.formats.stream`); the time unit and the
        milli-volt reading are decided on the first rows."""
        head = read_head(path)
        index = _header_index(head.lines)
        if index < 0 or index + 1 >= len(head.lines):
            raise NotStreamable("no Maccor header in the first megabyte")
        separator, header = _layout(head.lines[index])
        stream = TableStream(
            path,
            head.offset(index + 1),
            header,
            separator=separator,
            keep_text=_TEXT,
            encoding=head.encoding,
            **options,
        )
        scale = _time_scale(stream.sample)
        millivolts = _millivolts(header, self._frame(_seconds(stream.sample, scale), path))
        first = self._raw(pl.DataFrame(), head.lines[:index])
        for table in stream:
            frame = self._frame(_seconds(table, scale), path)
            if millivolts:
                frame = frame.with_columns(pl.col(c.VOLTAGE) * 1e-3)
            first.frame = _signed_current(frame)
            yield first
            first = RawSeries(frame=first.frame, family=self.family)

    def _frame(self, table: pl.DataFrame, path: Path) -> pl.DataFrame:
        frame = apply_column_maps(table, COLUMNS)
        missing = [n for n in (c.TIME, c.VOLTAGE, c.CURRENT) if n not in frame.columns]
        if missing:
            raise FormatError(f"{path.name}: no Maccor column for {', '.join(missing)}.")
        return frame

    def _raw(self, frame: pl.DataFrame, preamble: list[str]) -> RawSeries:
        setup, protocol = _metadata(preamble)
        return RawSeries(
            frame=frame,
            family=self.family,
            start_time=_start_time(preamble),
            test_setup=setup,
            protocol=protocol,
        )


def _layout(line: str) -> tuple[str, list[str]]:
    separator = "\t" if line.count("\t") >= line.count(",") else ","
    return separator, split_header(line, separator)


def _millivolts(header: list[str], frame: pl.DataFrame) -> bool:
    """Milli-unit exports write mV under "Volts"."""
    return "mamps" in {n.lower() for n in header} and frame[c.VOLTAGE].abs().median() > 100


register(MaccorTextReader())
