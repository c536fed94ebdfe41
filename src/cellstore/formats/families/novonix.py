"""Novonix HPC/UHPC exports: ``[Summary]`` and ``[Protocol]`` sections, then ``[Data]``.

Lines may be wrapped whole in double quotes (as some re-exports do). Novonix counts charge
current as positive (negated here); ``Capacity (Ah)`` and ``Energy (Wh)`` are per-step counters.
"""

from __future__ import annotations

from pathlib import Path

from cellstore.formats.base import ColumnMap, FormatError, RawSeries, Reader
from cellstore.formats.delimited import head_text, parse_datetime, parse_table, read_text, split_header
from cellstore.formats.detect import register
from cellstore.formats.normalise import CAPACITY_FROM_CYCLER, ENERGY_FROM_CYCLER, apply_column_maps
from cellstore.processing import columns as c

COLUMNS = [
    ColumnMap("Run Time (h)", c.TIME, scale=3600.0),
    ColumnMap("Potential (V)", c.VOLTAGE),
    ColumnMap("Current (A)", c.CURRENT, negate=True),
    ColumnMap("Step Number", c.STEP_FROM_CYCLER),
    ColumnMap("Cycle Number", c.CYCLE_FROM_CYCLER),
    ColumnMap("Capacity (Ah)", CAPACITY_FROM_CYCLER),
    ColumnMap("Energy (Wh)", ENERGY_FROM_CYCLER),
    ColumnMap("Temperature (°C)", c.TEMPERATURE),
    ColumnMap("Power(W)", c.POWER, negate=True),
]
_DATE_FORMATS = ("%Y-%m-%d %I:%M:%S %p", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S%.f")


def _unquote(line: str) -> str:
    line = line.strip()
    return line[1:-1] if len(line) > 1 and line[0] == line[-1] == '"' else line


class NovonixReader(Reader):
    family = "novonix"
    label = "Novonix HPC/UHPC export (.csv)"
    extensions = (".csv",)

    def sniff(self, head: bytes, name: str) -> float:
        text = head_text(head)
        start = [_unquote(line) for line in text.split("\n", 3)[:3]]
        if start and start[0] == "[Summary]" and any("novonix" in line.lower() for line in start[1:]):
            return 0.95
        return 0.0

    def read(self, path: Path) -> RawSeries:
        lines = [_unquote(line) for line in read_text(path).split("\n")]
        try:
            index = lines.index("[Data]") + 1
        except ValueError:
            raise FormatError(f"{path.name}: Novonix file without a [Data] section.") from None
        if index >= len(lines):
            raise FormatError(f"{path.name}: the [Data] section has no column header.")
        table = parse_table(
            lines[index + 1 :], split_header(lines[index], ","), separator=",", keep_text=("Date and Time",)
        )
        frame = apply_column_maps(table, COLUMNS)
        if c.TIME not in frame.columns or c.CURRENT not in frame.columns:
            raise FormatError(f"{path.name}: no 'Run Time (h)' / 'Current (A)' columns in [Data].")
        summary = {}
        for line in lines[: index - 1]:
            key, sep, value = line.partition(":")
            if sep and value.strip():
                summary.setdefault(key.strip(), value.strip())
        setup = {"cycler": "Novonix"}
        for key, target in (
            ("Channel", "channel_number"),
            ("Cell", "cell"),
            ("Serial Number", "serial_number"),
        ):
            if summary.get(key):
                setup[target] = summary[key]
        start = None
        if "Date and Time" in table.columns and table.height:
            try:
                start = parse_datetime(table["Date and Time"].head(1), _DATE_FORMATS)[0]
            except FormatError:
                start = None
            if start is not None and frame[c.TIME][0]:
                from datetime import timedelta

                start -= timedelta(seconds=frame[c.TIME][0])
        protocol = {"name": summary["Protocol"]} if summary.get("Protocol") else {}
        return RawSeries(
            frame=frame, family=self.family, start_time=start, test_setup=setup, protocol=protocol
        )


register(NovonixReader())
