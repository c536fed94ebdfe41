"""Gamry Framework data files (``.DTA``) holding an impedance sweep.

A ``.DTA`` opens with ``EXPLAIN`` and tagged header lines (``TAG<TAB>TYPE<TAB>value…``:
``DATE``, ``TIME``, ``PSTAT`` …), then tables each introduced by ``NAME<TAB>TABLE``, a
line of column names and a line of units. The sweep is ``ZCURVE`` with ``Freq``,
``Zreal`` and ``Zimag`` (the raw imaginary part) and ``Time`` in seconds from the
start of the experiment.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from cellstore.formats.base import FormatError, RawSeries, Reader
from cellstore.formats.delimited import read_text
from cellstore.formats.detect import register
from cellstore.formats.families.eis import eis_series, numeric_table

_SETUP_TAGS = {"TITLE": "title", "PSTAT": "potentiostat", "TAG": "technique", "NOTES": "notes"}


def _header(lines: list[str]) -> dict[str, str]:
    fields = {}
    for line in lines:
        parts = line.split("\t")
        if len(parts) >= 3 and parts[0] and parts[1] != "TABLE":
            fields[parts[0]] = parts[2]
    return fields


class GamryDtaReader(Reader):
    family = "gamry_dta"
    label = "Gamry Framework impedance data (.DTA)"
    extensions = (".dta",)

    def sniff(self, head: bytes, name: str) -> float:
        if not head.startswith(b"EXPLAIN"):
            return 0.0
        return 0.95 if b"ZCURVE" in head or b"EIS" in head[:200] else 0.7

    def read(self, path: Path) -> RawSeries:
        lines = [line.rstrip("\r") for line in read_text(path).split("\n")]
        if not lines or lines[0].strip() != "EXPLAIN":
            raise FormatError(f"{path.name}: does not start with EXPLAIN, so not a Gamry .DTA file")
        start = next((i for i, line in enumerate(lines) if line.startswith("ZCURVE\tTABLE")), -1)
        if start < 0 or start + 2 >= len(lines):
            raise FormatError(f"{path.name}: a Gamry file without an impedance table (ZCURVE)")
        names = [name.strip() for name in lines[start + 1].split("\t")]
        rows = []
        for line in lines[start + 3 :]:
            if not line.startswith("\t"):  # the next table or tag ends this one
                break
            rows.append(line.split("\t"))
        table = numeric_table(names, rows).drop("", strict=False)
        fields = _header(lines[:start])
        setup = {key: fields[tag] for tag, key in _SETUP_TAGS.items() if fields.get(tag)}
        return eis_series(
            table,
            family=self.family,
            frequency="Freq",
            real="Zreal",
            imaginary="Zimag",
            time="Time",
            start_time=_start(fields.get("DATE"), fields.get("TIME")),
            test_setup=setup,
        )


def _start(date: str | None, time: str | None) -> datetime | None:
    if not date or not time:
        return None
    for pattern in ("%m/%d/%Y %H:%M:%S", "%d.%m.%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(f"{date.strip()} {time.strip()}", pattern)
        except ValueError:
            continue
    return None


register(GamryDtaReader())
