"""Neware BTS binary files: ``.nda`` (BTS 7 and older, and BTS 9) and ``.ndax`` (BTS 8, a zip).

Decoding is left to ``fastnda`` (BSD-3-Clause), which follows Neware's record
layouts across their versions; this module only names its columns in the §6.1
vocabulary. Neware counts charge current positive and resets capacity and energy
at every step, keeping one signed capacity per record (charge minus discharge),
which splits back into the two §6.1 columns by its sign. ``Cycle from cycler`` is
the cycle number Neware recorded (BTS 8 and 9 files); old ``.nda`` files record
none, and fastnda then counts a cycle at each first change of current direction.
BTSDA can renumber cycles on export (a charge after a discharge starting one), so
its exports do not always show the recorded numbers.
"""

from __future__ import annotations

import os
import tempfile
import warnings
import zipfile
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from cellstore.formats.base import FormatError, RawSeries, Reader
from cellstore.formats.detect import register
from cellstore.processing import columns as c

NDA_MAGIC = b"NEWARE"
ZIP_MAGIC = b"PK\x03\x04"
#: Members every .ndax holds; seeing one in the zip directory marks the file as Neware's.
NDAX_MEMBERS = (b"data.ndc", b"Step.xml", b"TestInfo.xml", b"VersionInfo.xml")

#: What ``fastnda`` calls each quantity, and its §6.1 column.
RENAMES = {
    "total_time_s": c.TIME,
    "voltage_V": c.VOLTAGE,
    "step_count": c.STEP_FROM_CYCLER,
    "cycle_count": c.CYCLE_FROM_CYCLER,
    "step_index": "Step index",
    "step_type": "Step type",
    "step_time_s": "Step time [s]",
    "unix_time_s": "Unix time [s]",
    "index": "Record",
}

#: Metadata of a .ndax's TestInfo.xml worth keeping with the measurement.
TEST_INFO_KEYS = ("DevType", "DevID", "UnitID", "ChlID", "TestID", "SN", "Barcode", "StepName", "StartTime")


@contextmanager
def _with_suffix(path: Path, suffix: str):
    """``fastnda`` picks its decoder by extension; give it one when the upload has a temporary name."""
    if path.suffix.lower() == suffix:
        yield path
        return
    with tempfile.TemporaryDirectory() as tmp:
        link = Path(tmp) / f"upload{suffix}"
        os.symlink(path.resolve(), link)
        yield link


def _to_canonical(frame: pl.DataFrame) -> pl.DataFrame:
    capacity = pl.col("capacity_mAh").cast(pl.Float64) / 1000
    energy = pl.col("energy_mWh").cast(pl.Float64) / 1000
    exprs = [
        (-pl.col("current_mA").cast(pl.Float64) / 1000).alias(c.CURRENT),
        capacity.clip(lower_bound=0).alias(c.CHARGE_CAPACITY),
        (-capacity).clip(lower_bound=0).alias(c.DISCHARGE_CAPACITY),
        energy.clip(lower_bound=0).alias(c.CHARGE_ENERGY),
        (-energy).clip(lower_bound=0).alias(c.DISCHARGE_ENERGY),
        pl.col("step_type").cast(pl.String),
    ]
    temperatures = [name for name in frame.columns if name.startswith("aux") and "temperature_degC" in name]
    if temperatures:
        exprs.append(pl.col(temperatures[0]).cast(pl.Float64).alias(c.TEMPERATURE))
    present = {old: new for old, new in RENAMES.items() if old in frame.columns}
    return (
        frame.with_columns(exprs)
        .drop("current_mA", "capacity_mAh", "energy_mWh")
        .rename(present)
        .with_columns(
            pl.col(name).cast(pl.Float64) for name in (c.TIME, c.VOLTAGE) if name in present.values()
        )
    )


def _start_time(frame: pl.DataFrame) -> datetime | None:
    if frame.is_empty() or "unix_time_s" not in frame.columns:
        return None
    first = frame.select((pl.col("unix_time_s") - pl.col("total_time_s")).first()).item()
    if first is None or not 0 < first < 4.1e9:
        return None
    return datetime.fromtimestamp(first, UTC)


def _plain(value: Any) -> Any:
    """Metadata as JSON-safe values (fastnda may hand back numpy scalars)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _metadata(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    import fastnda

    try:
        with warnings.catch_warnings():  # fastnda warns that BTS 9 metadata is little tested; so do we
            warnings.simplefilter("ignore")
            meta = _plain(fastnda.read_metadata(path))
    except Exception:  # metadata is a bonus; the data decides whether the file is usable
        return {}, {}
    if path.suffix.lower() == ".nda":
        return {k: v for k, v in meta.items() if not k.startswith("UNKNOWN")}, {}
    info = meta.get("TestInfo", {}).get("TestInfo", {})
    setup = {key: info[key] for key in TEST_INFO_KEYS if isinstance(info.get(key), str)}
    step = meta.get("Step") or meta.get("EditStep")
    return setup, {"neware_step_file": step} if step else {}


class _NewareReader(Reader):
    suffix: str

    def read(self, path: Path) -> RawSeries:
        import fastnda

        with _with_suffix(path, self.suffix) as usable:
            try:
                frame = fastnda.read(usable, cycle_mode="raw")
            except (zipfile.BadZipFile, EOFError) as exc:
                raise FormatError(f"{path.name}: damaged {self.label}: {exc}") from exc
            except Exception as exc:  # fastnda raises bare ValueError/KeyError/struct.error on damage
                raise FormatError(f"{path.name}: cannot decode as {self.label}: {exc}") from exc
            setup, protocol = _metadata(usable)
        start = _start_time(frame)
        return RawSeries(
            frame=_to_canonical(frame),
            family=self.family,
            start_time=start,
            capacity_per_step=True,
            test_setup={"decoder": "fastnda", **setup},
            protocol=protocol,
        )


class NewareNdaReader(_NewareReader):
    family = "neware_nda"
    label = "Neware BTS binary (.nda)"
    extensions = (".nda",)
    suffix = ".nda"

    def sniff(self, head: bytes, name: str) -> float:
        return 0.98 if head.startswith(NDA_MAGIC) else 0.0


class NewareNdaxReader(_NewareReader):
    family = "neware_ndax"
    label = "Neware BTS 8 archive (.ndax)"
    extensions = (".ndax",)
    suffix = ".ndax"

    def sniff(self, head: bytes, name: str) -> float:
        if not head.startswith(ZIP_MAGIC):
            return 0.0
        if any(member in head for member in NDAX_MEMBERS):
            return 0.95
        # a zip whose directory lies beyond the sniffed bytes: only the name can tell
        return 0.6 if name.lower().endswith(".ndax") else 0.0


register(NewareNdaReader())
register(NewareNdaxReader())
