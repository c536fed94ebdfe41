"""Arbin MITS result files (``.res``): Microsoft Access (Jet 4) databases.

The tables are read with ``mdb-export`` from Debian's ``mdbtools``: the records
in ``Channel_Normal_Table``, the test's description in ``Global_Table`` and
auxiliary channels (thermocouples, extra voltages) in ``Auxiliary_Table``, one
row per data point and channel, turned here into one column per channel. Arbin
counts charge current positive and resets its capacity and energy counters at
each cycle, not each step. Times in the file are the tester's local clock as OLE
automation dates (days since 1899-12-30) with no time zone, so ``start_time`` is
naive.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from cellstore.formats.base import ColumnMap, FormatError, RawSeries, Reader
from cellstore.formats.detect import register
from cellstore.processing import columns as c

JET_MAGIC = b"Standard Jet DB"
DATA_TABLE = "Channel_Normal_Table"
OLE_EPOCH = datetime(1899, 12, 30)
EXPORT_TIMEOUT_S = 600

COLUMN_MAP = (
    ColumnMap("Test_Time", c.TIME),
    ColumnMap("Voltage", c.VOLTAGE),
    ColumnMap("Current", c.CURRENT, negate=True),
    ColumnMap("Step_Index", c.STEP_FROM_CYCLER),
    ColumnMap("Cycle_Index", c.CYCLE_FROM_CYCLER),
    ColumnMap("Charge_Capacity", c.CHARGE_CAPACITY),
    ColumnMap("Discharge_Capacity", c.DISCHARGE_CAPACITY),
    ColumnMap("Charge_Energy", c.CHARGE_ENERGY),
    ColumnMap("Discharge_Energy", c.DISCHARGE_ENERGY),
)

#: Auxiliary_Table's Data_Type codes, as Arbin documents them for MITS Pro.
AUX_KINDS = {
    0: "voltage [V]",
    1: "temperature [degC]",
    2: "pressure",
    3: "pH",
    4: "flow rate",
    5: "concentration",
}

#: Global_Table fields kept as the measurement's test setup.
SETUP_FIELDS = (
    "Test_Name",
    "Channel_Index",
    "Channel_Number",
    "Creator",
    "Comments",
    "Software_Version",
    "Serial_Number",
    "Schedule_Version",
    "Item_ID",
)


def _mdb(command: str, *args: str) -> str:
    tool = shutil.which(command)
    if tool is None:
        raise FormatError(f"reading Arbin .res files needs {command} from the Debian package mdbtools")
    result = subprocess.run([tool, *args], capture_output=True, timeout=EXPORT_TIMEOUT_S, check=False)
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise FormatError(f"not a readable Access database ({message[-1] if message else 'mdbtools failed'})")
    return result.stdout.decode("utf-8", "replace")


def _table(path: Path, table: str) -> pl.DataFrame:
    text = _mdb("mdb-export", "-b", "strip", str(path), table)
    if not text.strip():
        return pl.DataFrame()
    return pl.read_csv(io.StringIO(text), infer_schema_length=None)


def _rows(path: Path, table: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(_mdb("mdb-export", str(path), table))))


def _ole(days: float | str | None) -> datetime | None:
    try:
        value = float(days)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return OLE_EPOCH + timedelta(days=value) if 1 < value < 2_958_465 else None


def _auxiliary(path: Path, tables: set[str]) -> pl.DataFrame | None:
    if "Auxiliary_Table" not in tables:
        return None
    aux = _table(path, "Auxiliary_Table")
    if aux.is_empty() or not {"Data_Point", "Auxiliary_Index", "Data_Type", "X"} <= set(aux.columns):
        return None
    aux = aux.with_columns(
        pl.format(
            "Aux {} {}",
            pl.col("Auxiliary_Index") + 1,
            pl.col("Data_Type").replace_strict(AUX_KINDS, default=pl.format("type {}", "Data_Type")),
        ).alias("channel")
    )
    keys = [k for k in ("Test_ID", "Data_Point") if k in aux.columns]
    return aux.pivot(on="channel", index=keys, values="X", aggregate_function="first")


def _canonical(frame: pl.DataFrame) -> pl.DataFrame:
    lower = {name.lower(): name for name in frame.columns}
    exprs = []
    used = []
    for mapping in COLUMN_MAP:
        source = lower.get(mapping.source.lower())
        if source is None:
            continue
        expr = pl.col(source).cast(pl.Float64) * mapping.scale
        if mapping.target in c.COUNT_COLUMNS:
            expr = pl.col(source).cast(pl.Int64)
        exprs.append((-expr if mapping.negate else expr).alias(mapping.target))
        used.append(source)
    temperatures = sorted(name for name in frame.columns if name.startswith("Aux ") and "temperature" in name)
    if temperatures:
        exprs.append(pl.col(temperatures[0]).cast(pl.Float64).alias(c.TEMPERATURE))
        used.append(temperatures[0])
    return frame.with_columns(exprs).drop(used)


class ArbinResReader(Reader):
    family = "arbin_res"
    label = "Arbin MITS result database (.res)"
    extensions = (".res",)

    def sniff(self, head: bytes, name: str) -> float:
        if head[4:19] != JET_MAGIC:
            return 0.0
        # every Access database starts so; Arbin's are the ones cellstore meets, and they are called .res
        return 0.9 if name.lower().endswith(".res") else 0.6

    def read(self, path: Path) -> RawSeries:
        with open(path, "rb") as file:
            if file.read(19)[4:] != JET_MAGIC:
                raise FormatError(f"{path.name}: not an Access database, so not an Arbin .res file")
        try:
            tables = set(_mdb("mdb-tables", "-1", str(path)).split())
        except FormatError as exc:
            raise FormatError(f"{path.name}: {exc}") from exc
        if DATA_TABLE not in tables:
            raise FormatError(
                f"{path.name}: an Access database without {DATA_TABLE}, so not an Arbin .res file"
            )
        frame = _table(path, DATA_TABLE)
        if frame.is_empty():
            frame = pl.DataFrame(
                schema={"Test_ID": pl.Int64, "Data_Point": pl.Int64, "Test_Time": pl.Float64}
            )
        frame = frame.sort([k for k in ("Test_ID", "Data_Point") if k in frame.columns])
        aux = _auxiliary(path, tables)
        if aux is not None:
            keys = [k for k in aux.columns if k in ("Test_ID", "Data_Point")]
            frame = frame.join(aux, on=keys, how="left", maintain_order="left")
        setup: dict[str, object] = {}
        schedule: dict[str, object] = {}
        globals_ = _rows(path, "Global_Table") if "Global_Table" in tables else []
        if globals_:
            first = globals_[0]
            setup = {key: first[key] for key in SETUP_FIELDS if first.get(key)}
            schedule = {"schedule_file": first.get("Schedule_File_Name") or None}
            if len(globals_) > 1:
                setup["tests"] = len(globals_)
        return RawSeries(
            frame=_canonical(frame),
            family=self.family,
            start_time=_ole(globals_[0].get("Start_DateTime")) if globals_ else None,
            capacity_per_step=False,
            test_setup=setup,
            protocol={k: v for k, v in schedule.items() if v},
        )


register(ArbinResReader())
