"""ZView-style impedance text (``"Z60W Data File"``), as Metrohm Autolab's NOVA and Scribner write it.

The file opens with ``"Z60W Data File: Version …"``, a few quoted header lines, a
line of settings, the number of points, then a quoted line of column names
(``Freq (Hz)``, ``Ampl``, ``Bias``, ``Time(Sec)``, ``Z'(a)``, ``Z''(b)`` …) and
comma-separated rows. ``Z''(b)`` is the raw imaginary part.
"""

from __future__ import annotations

import re
from pathlib import Path

from cellstore.formats.base import FormatError, RawSeries, Reader
from cellstore.formats.delimited import head_text, read_text
from cellstore.formats.detect import register
from cellstore.formats.families.eis import eis_series, numeric_table

_BANNER = re.compile(r'^\ufeff?"?Z60W Data File')


class AutolabZ60wReader(Reader):
    family = "autolab_z60w"
    label = "Autolab / ZView impedance text (Z60W Data File)"
    extensions = (".txt", ".z60")

    def sniff(self, head: bytes, name: str) -> float:
        return 0.95 if _BANNER.match(head_text(head)) else 0.0

    def read(self, path: Path) -> RawSeries:
        lines = [line.rstrip("\r") for line in read_text(path).split("\n")]
        if not lines or not _BANNER.match(lines[0]):
            raise FormatError(f"{path.name}: no 'Z60W Data File' banner")
        index = next((i for i, line in enumerate(lines) if "Freq" in line and "Z'" in line), -1)
        if index < 0:
            raise FormatError(f"{path.name}: no column line with Freq and Z' in the Z60W file")
        names = re.split(r"\s{2,}", lines[index].strip().strip('"').strip())
        rows = [line.split(",") for line in lines[index + 1 :] if line.strip()]
        if rows and len(rows[0]) != len(names):
            raise FormatError(f"{path.name}: {len(names)} column names but {len(rows[0])} values per row")
        table = numeric_table(names, rows)
        return eis_series(
            table,
            family=self.family,
            frequency="Freq (Hz)",
            real="Z'(a)",
            imaginary="Z''(b)",
            time="Time(Sec)",
            test_setup={"version": lines[0].strip('\ufeff"').split(":", 1)[-1].strip()},
        )


register(AutolabZ60wReader())
