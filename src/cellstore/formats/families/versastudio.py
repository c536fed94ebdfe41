"""AMETEK VersaStudio project files (``.par``) holding impedance segments.

The file is a list of ``<Section>`` … ``</Section>`` blocks of ``key=value`` lines
(``<Application>``, ``<Instrument>``, ``<Action0>`` …). Measurements are in
``<SegmentN>`` blocks: a ``Definition=`` line naming the comma-separated columns,
then one row per point. Impedance segments have ``Frequency(Hz)``, ``Z Real`` and
``Z Imag`` (the raw imaginary part) and ``Elapsed Time(s)``.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from cellstore.formats.base import FormatError, RawSeries, Reader
from cellstore.formats.delimited import head_text, read_text
from cellstore.formats.detect import register
from cellstore.formats.families.eis import eis_series, numeric_table

_SEGMENT = re.compile(r"^<Segment(\d+)>$")


class VersaStudioReader(Reader):
    family = "versastudio_par"
    label = "VersaStudio impedance project (.par)"
    extensions = (".par",)

    def sniff(self, head: bytes, name: str) -> float:
        text = head_text(head)
        if text.startswith("<Application>") and "VersaStudio" in text[:200]:
            return 0.95
        return 0.0

    def read(self, path: Path) -> RawSeries:
        lines = [line.rstrip("\r") for line in read_text(path).split("\n")]
        tables = []
        for i, line in enumerate(lines):
            match = _SEGMENT.match(line.strip())
            if not match:
                continue
            end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("</Segment")), len(lines))
            definition = next((j for j in range(i + 1, end) if lines[j].startswith("Definition=")), -1)
            if definition < 0:
                continue
            names = [name.strip() for name in lines[definition].split("=", 1)[1].split(",")]
            rows = [row.split(",") for row in lines[definition + 1 : end] if row.strip()]
            table = numeric_table(names, rows)
            if "Frequency(Hz)" in table.columns:
                tables.append(table.with_columns(pl.lit(int(match.group(1))).alias("Segment")))
        if not tables:
            raise FormatError(f"{path.name}: no impedance segment (a Definition with Frequency(Hz))")
        settings = {}
        for line in lines:
            key, sep, value = line.partition("=")
            if sep and key in ("Name", "Version", "Type", "Model", "Serial Number"):
                settings.setdefault(key.lower().replace(" ", "_"), value.strip())
        return eis_series(
            pl.concat(tables, how="diagonal_relaxed"),
            family=self.family,
            frequency="Frequency(Hz)",
            real="Z Real",
            imaginary="Z Imag",
            time="Elapsed Time(s)",
            test_setup=settings,
        )


register(VersaStudioReader())
