"""Scribner ZPlot impedance files (``.z``): ``ZPLOT2 ASCII``.

A header of ``label: value`` lines up to ``End Comments``, then tab-separated rows.
ZPlot 2/3 files carry no column names; the column order is fixed: frequency (Hz),
AC amplitude, DC bias, time (s), Z' (Ohm), Z'' (Ohm, raw imaginary part), then
status columns.
"""

from __future__ import annotations

from pathlib import Path

from cellstore.formats.base import FormatError, RawSeries, Reader
from cellstore.formats.delimited import read_text
from cellstore.formats.detect import register
from cellstore.formats.families.eis import eis_series, numeric_table

COLUMNS = ("Freq (Hz)", "Ampl", "Bias", "Time (s)", "Z' (Ohm)", "Z'' (Ohm)", "GD", "Err", "Range")
_SETUP = {"Experiment Type": "experiment", "Date": "date", "Time": "time", "Measured Data, ZPlot": "zplot"}


class ZPlotReader(Reader):
    family = "zplot"
    label = "Scribner ZPlot impedance (.z)"
    extensions = (".z",)

    def sniff(self, head: bytes, name: str) -> float:
        return 0.95 if head.startswith(b"ZPLOT2 ASCII") else 0.0

    def read(self, path: Path) -> RawSeries:
        lines = [line.rstrip("\r") for line in read_text(path).split("\n")]
        end = next((i for i, line in enumerate(lines) if line.strip() == "End Comments"), -1)
        if not lines or not lines[0].startswith("ZPLOT2 ASCII") or end < 0:
            raise FormatError(f"{path.name}: not a ZPlot file (no 'ZPLOT2 ASCII' … 'End Comments' header)")
        rows = [line.split("\t") for line in lines[end + 1 :] if line.strip()]
        width = max((len(row) for row in rows), default=len(COLUMNS))
        names = list(COLUMNS[:width]) + [f"column {i}" for i in range(len(COLUMNS), width)]
        setup = {}
        for line in lines[1:end]:
            key, sep, value = line.partition(":")
            if sep and key.strip() in _SETUP:
                setup[_SETUP[key.strip()]] = value.strip()
        return eis_series(
            numeric_table(names, rows),
            family=self.family,
            frequency="Freq (Hz)",
            real="Z' (Ohm)",
            imaginary="Z'' (Ohm)",
            time="Time (s)",
            test_setup=setup,
        )


register(ZPlotReader())
