"""CH Instruments impedance text exports (``A.C. Impedance``).

A dated first line, ``A.C. Impedance``, ``Instrument Model:`` and the run's settings
as ``name = value`` lines, then ``Freq/Hz, Z'/ohm, Z"/ohm, Z/ohm, Phase/deg`` and
comma-separated rows. ``Z"`` is the raw imaginary part.
"""

from __future__ import annotations

from pathlib import Path

from cellstore.formats.base import FormatError, RawSeries, Reader
from cellstore.formats.delimited import head_text, read_text
from cellstore.formats.detect import register
from cellstore.formats.families.eis import eis_series, numeric_table


class ChiImpedanceReader(Reader):
    family = "chi_eis"
    label = "CH Instruments impedance text export"
    extensions = (".txt",)

    def sniff(self, head: bytes, name: str) -> float:
        text = head_text(head)
        if "A.C. Impedance" in text[:200] and "Freq/Hz" in text:
            return 0.95
        return 0.0

    def read(self, path: Path) -> RawSeries:
        lines = [line.rstrip("\r") for line in read_text(path).split("\n")]
        index = next((i for i, line in enumerate(lines) if line.startswith("Freq/Hz")), -1)
        if index < 0:
            raise FormatError(f"{path.name}: no 'Freq/Hz' column line in the CH Instruments file")
        names = [name.strip() for name in lines[index].split(",")]
        rows = [line.split(",") for line in lines[index + 1 :] if line.strip()]
        settings = {}
        for line in lines[:index]:
            key, sep, value = line.partition("=")
            if sep:
                settings[key.strip()] = value.strip()
            elif line.startswith("Instrument Model:"):
                settings["instrument"] = line.split(":", 1)[1].strip()
        return eis_series(
            numeric_table(names, rows),
            family=self.family,
            frequency="Freq/Hz",
            real="Z'/ohm",
            imaginary='Z"/ohm',
            test_setup=settings,
        )


register(ChiImpedanceReader())
