"""Princeton Applied Research (Parstat, VersaSTAT) tab-separated exports with impedance columns.

One header line ``Potential (V)``, ``Current (A)``, ``Elapsed Time (s)``,
``Frequency (Hz)``, ``Zre (ohms)``, ``Zim (ohms)`` … and tab-separated rows. The
same table holds the DC part of the run (frequency 0); only the impedance rows
(frequency above 0) are kept, and how many others there were is noted in
``test_setup``. ``Zim`` is the raw imaginary part.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from cellstore.formats.base import FormatError, RawSeries, Reader
from cellstore.formats.delimited import head_text, read_text
from cellstore.formats.detect import register
from cellstore.formats.families.eis import eis_series, numeric_table

_NEEDED = ("Frequency (Hz)", "Zre (ohms)", "Zim (ohms)")


class ParstatReader(Reader):
    family = "parstat_eis"
    label = "Parstat / PAR impedance text export"
    extensions = (".txt",)

    def sniff(self, head: bytes, name: str) -> float:
        first = head_text(head).split("\n", 1)[0]
        return (
            0.9
            if all(f"{column}\t" in first or first.rstrip().endswith(column) for column in _NEEDED)
            else 0.0
        )

    def read(self, path: Path) -> RawSeries:
        lines = [line.rstrip("\r") for line in read_text(path).split("\n")]
        names = [name.strip() for name in lines[0].rstrip("\t").split("\t")] if lines else []
        if not all(column in names for column in _NEEDED):
            raise FormatError(f"{path.name}: the first line lacks {', '.join(_NEEDED)}")
        rows = [line.rstrip("\t").split("\t") for line in lines[1:] if line.strip()]
        table = numeric_table(names, rows)
        impedance = table.filter(pl.col("Frequency (Hz)") > 0)
        return eis_series(
            impedance,
            family=self.family,
            frequency="Frequency (Hz)",
            real="Zre (ohms)",
            imaginary="Zim (ohms)",
            time="Elapsed Time (s)",
            test_setup={"dc_rows_skipped": table.height - impedance.height},
        )


register(ParstatReader())
