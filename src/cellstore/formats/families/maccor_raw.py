"""Maccor MIMS data files named by channel run (``.001`` … ``.999``), and their FRA sidecars.

What Maccor's MIMS server writes next to each test as ``NAME.0NN`` is, in the files
cellstore has met, a tab-separated table: one line ``Today's Date … Date of Test:
… Filename: … Procedure: … Comment/Barcode: …``, one line of column names, then
one record per line. Test time is ``Test (Sec)``, ``Test (Min)`` or ``TestTime`` as
``Nd hh:mm:ss.ffff``; ``Amps`` is signed (charge positive) or, in some exports,
unsigned with the direction in ``State`` (``C`` charge, ``D`` discharge), so the
sign is taken from ``State`` where it says so. ``Amp-hr`` and ``Watt-hr`` restart
at every step and count in the step's direction.

The binary form of MIMS data (opened only by Maccor's own DLL) is not readable here:
such a file is refused with a message asking for the text export.

An AC-impedance run also leaves ``NAME.EDA0001.0NN``: ``MACCOR, INC.    AC Impedance
Test``, a few description lines, then a tab-separated sweep (``Freq(Hz)``, ``Z'(a)``,
``Z''(b)`` raw imaginary part, …), read as an EIS series.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from cellstore.formats.base import ColumnMap, FormatError, RawSeries, Reader
from cellstore.formats.delimited import head_text, read_text
from cellstore.formats.detect import register
from cellstore.formats.families.eis import eis_series, numeric_table
from cellstore.formats.normalise import apply_column_maps, duration_seconds
from cellstore.processing import columns as c

_RUN_NAME = re.compile(r"\.\d{3}$")
_HEADER = re.compile(r"^Today'?s Date\s")

COLUMN_MAP = (
    ColumnMap("Volts", c.VOLTAGE),
    ColumnMap("Step", c.STEP_FROM_CYCLER),
    ColumnMap("Cyc#", c.CYCLE_FROM_CYCLER),
    ColumnMap("Temp 1", c.TEMPERATURE),
)

#: Fields of the first line: label -> key in ``test_setup``.
HEADER_FIELDS = {
    "Date of Test:": "date_of_test",
    "Filename:": "filename",
    "Procedure:": "procedure",
    "Comment/Barcode:": "comment",
}


def _header_fields(line: str) -> dict[str, str]:
    labels = "|".join(re.escape(label) for label in HEADER_FIELDS)
    parts = re.split(f"({labels})", line)
    fields: dict[str, str] = {}
    for label, value in zip(parts[1::2], parts[2::2], strict=True):
        fields[HEADER_FIELDS[label]] = value.strip(" \t")
    return fields


def _time(frame: pl.DataFrame) -> pl.Expr:
    if "Test (Sec)" in frame.columns:
        return pl.col("Test (Sec)").cast(pl.Float64)
    if "Test (Min)" in frame.columns:
        return pl.col("Test (Min)").cast(pl.Float64) * 60
    if "TestTime" in frame.columns:
        return duration_seconds(pl.col("TestTime"))
    raise FormatError("no test time column (Test (Sec), Test (Min) or TestTime)")


class MaccorRawReader(Reader):
    family = "maccor_raw"
    label = "Maccor MIMS data file (.001 … .999)"
    extensions = tuple(f".{n:03d}" for n in range(1, 10))

    def sniff(self, head: bytes, name: str) -> float:
        text = head_text(head)
        first = text.split("\n", 1)[0]
        if _HEADER.match(first) and "Date of Test:" in first and "Procedure:" in first:
            return 0.95 if _RUN_NAME.search(name) else 0.8
        if _RUN_NAME.search(name) and b"\x00" in head[:512] and not head.startswith(b"MACCOR"):
            return 0.55  # binary MIMS data: claim it, to refuse it with a useful message
        return 0.0

    def read(self, path: Path) -> RawSeries:
        with open(path, "rb") as file:
            if b"\x00" in file.read(512):
                raise FormatError(
                    f"{path.name}: a binary Maccor data file; cellstore reads Maccor's text export "
                    "(MIMS Client: export the test as tab-delimited text)"
                )
        lines = read_text(path).split("\n")
        if len(lines) < 2 or not _HEADER.match(lines[0]):
            raise FormatError(
                f"{path.name}: no 'Today's Date … Date of Test' line, so not a Maccor data file"
            )
        setup = _header_fields(lines[0])
        names = [name.strip() for name in lines[1].rstrip("\r").split("\t")]
        body = "\n".join(line.rstrip("\r") for line in lines[2:] if line.strip())
        try:
            frame = (
                pl.read_csv(
                    body.encode(),
                    separator="\t",
                    has_header=False,
                    new_columns=names,
                    infer_schema_length=None,
                    null_values=["N/A", ""],
                    truncate_ragged_lines=True,
                )
                if body
                else pl.DataFrame(schema={name: pl.String for name in names})
            )
        except pl.exceptions.PolarsError as exc:
            raise FormatError(f"{path.name}: unreadable Maccor records: {exc}") from exc
        for needed in ("Amps", "Volts", "State"):
            if needed not in frame.columns:
                raise FormatError(f"{path.name}: no {needed!r} column, so not a Maccor data file")
        frame = self._canonical(frame)
        return RawSeries(
            frame=frame,
            family=self.family,
            start_time=_wall_clock_start(frame, setup.get("date_of_test")),
            capacity_per_step=True,
            test_setup={k: v for k, v in setup.items() if v},
        )

    @staticmethod
    def _canonical(frame: pl.DataFrame) -> pl.DataFrame:
        state = pl.col("State").cast(pl.String).str.strip_chars()
        amps = pl.col("Amps").cast(pl.Float64)
        charging, discharging = state == "C", state == "D"
        exprs = [
            _time(frame).alias(c.TIME),
            pl.when(discharging)
            .then(amps.abs())
            .when(charging)
            .then(-amps.abs())
            .otherwise(-amps)
            .alias(c.CURRENT),
        ]
        for counter, charge, discharge in (
            ("Amp-hr", c.CHARGE_CAPACITY, c.DISCHARGE_CAPACITY),
            ("Watt-hr", c.CHARGE_ENERGY, c.DISCHARGE_ENERGY),
        ):
            if counter in frame.columns:
                value = pl.col(counter).cast(pl.Float64).abs()
                exprs += [
                    pl.when(charging).then(value).otherwise(0.0).alias(charge),
                    pl.when(discharging).then(value).otherwise(0.0).alias(discharge),
                ]
        mapped = apply_column_maps(frame.with_columns(exprs), COLUMN_MAP)
        counts = [name for name in (c.STEP_FROM_CYCLER, c.CYCLE_FROM_CYCLER) if name in mapped.columns]
        return mapped.with_columns(pl.col(name).cast(pl.Int64, strict=False) for name in counts)


def _wall_clock_start(frame: pl.DataFrame, date_of_test: str | None) -> datetime | None:
    if frame.is_empty() or "DPt Time" not in frame.columns:
        return None
    stamp = str(frame["DPt Time"][0]).strip()
    if date_of_test and re.fullmatch(r"\d{1,2}:\d{2}:\d{2}", stamp):
        stamp = f"{date_of_test.strip()} {stamp}"
    try:
        moment = datetime.strptime(stamp, "%m/%d/%Y %H:%M:%S")
    except ValueError:
        return None
    return moment - timedelta(seconds=float(frame[c.TIME][0] or 0.0))


class MaccorFraReader(Reader):
    family = "maccor_fra"
    label = "Maccor AC impedance sweep (.EDA0001.0NN)"
    extensions = ()

    def sniff(self, head: bytes, name: str) -> float:
        return 0.95 if head.startswith(b"MACCOR, INC.") and b"AC Impedance" in head[:200] else 0.0

    def read(self, path: Path) -> RawSeries:
        lines = [line.rstrip("\r") for line in read_text(path).split("\n")]
        index = next((i for i, line in enumerate(lines) if line.startswith("Freq(Hz)")), -1)
        if index < 0:
            raise FormatError(f"{path.name}: no 'Freq(Hz)' column line in the Maccor impedance file")
        names = [name.strip() for name in lines[index].split("\t")]
        rows = [line.split("\t") for line in lines[index + 1 :] if line.strip()]
        table = numeric_table(names, rows)
        setup = {"procedure": lines[2].strip(), "sweep": lines[1].strip()} if len(lines) > 2 else {}
        return eis_series(
            table,
            family=self.family,
            frequency="Freq(Hz)",
            real="Z'(a)",
            imaginary="Z''(b)",
            time="time(sec)",
            test_setup=setup,
        )


register(MaccorRawReader())
register(MaccorFraReader())
