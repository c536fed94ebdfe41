"""Indigo (Toyota Research Institute's cycler) time series in HDF5 (``.h5``).

The file is a pandas ``HDFStore`` in "fixed" format: the group ``time_series_data``
holds ``axis0`` (column names), ``axis1`` (row index) and the columns in blocks of
one dtype each (``blockN_items`` names, ``blockN_values`` a rows x items array). It
is read with ``h5py`` alone, without pandas or PyTables.

Columns: ``system_time_us`` (UNIX time, microseconds), ``time_s``, ``cell_voltage_v``,
``cell_current_a`` (charge positive), ``cell_coulomb_count_c`` and ``cell_energy_j``
(signed, restarting at each half cycle), ``cell_temperature_c``, ``cell_power_w``,
``cycle_count``, ``half_cycle_count``, ``experiment_count``, ``cell_id``. A half cycle
is Indigo's step.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from cellstore.formats.base import ColumnMap, FormatError, RawSeries, Reader
from cellstore.formats.detect import register
from cellstore.formats.normalise import apply_column_maps
from cellstore.processing import columns as c

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
GROUP = "time_series_data"

COLUMN_MAP = (
    ColumnMap("cell_voltage_v", c.VOLTAGE),
    ColumnMap("cell_current_a", c.CURRENT, negate=True),
    ColumnMap("cell_power_w", c.POWER, negate=True),
    ColumnMap("cell_temperature_c", c.TEMPERATURE),
    ColumnMap("half_cycle_count", c.STEP_FROM_CYCLER),
    ColumnMap("cycle_count", c.CYCLE_FROM_CYCLER),
)


def _frame(path: Path) -> pl.DataFrame:
    import h5py

    try:
        with h5py.File(path, "r") as file:
            if GROUP not in file:
                raise FormatError(f"{path.name}: an HDF5 file without '{GROUP}', so not an Indigo file")
            group = file[GROUP]
            names = [name.decode() for name in group["axis0"][:]]
            columns: dict[str, np.ndarray] = {}
            block = 0
            while f"block{block}_items" in group:
                items = [item.decode() for item in group[f"block{block}_items"][:]]
                values = group[f"block{block}_values"][:]
                for i, item in enumerate(items):
                    columns[item] = values[:, i]
                block += 1
    except OSError as exc:
        raise FormatError(f"{path.name}: unreadable HDF5 file ({exc})") from exc
    missing = [name for name in names if name not in columns]
    if missing:
        raise FormatError(f"{path.name}: columns {missing} are named but hold no values")
    return pl.DataFrame({name: columns[name] for name in names})


class IndigoReader(Reader):
    family = "indigo_h5"
    label = "Indigo cycler HDF5 (.h5)"
    extensions = (".h5",)

    def sniff(self, head: bytes, name: str) -> float:
        if not head.startswith(HDF5_MAGIC):
            return 0.0
        return 0.9 if GROUP.encode() in head or b"cell_coulomb_count_c" in head else 0.3

    def read(self, path: Path) -> RawSeries:
        frame = _frame(path)
        for needed in ("system_time_us", "time_s", "cell_voltage_v", "cell_current_a"):
            if needed not in frame.columns:
                raise FormatError(f"{path.name}: no {needed!r} column in the Indigo table")
        # time_s is the cycler's test clock (float32: 0.03 s resolution after a few days); the host's
        # system_time_us drifts from it (70 s in six days in the sample), so it only dates the start
        exprs = [pl.col("time_s").cast(pl.Float64).alias(c.TIME)]
        for counter, scale, charge, discharge in (
            ("cell_coulomb_count_c", 3600.0, c.CHARGE_CAPACITY, c.DISCHARGE_CAPACITY),
            ("cell_energy_j", 3600.0, c.CHARGE_ENERGY, c.DISCHARGE_ENERGY),
        ):
            if counter in frame.columns:
                value = pl.col(counter).cast(pl.Float64) / scale
                exprs += [
                    value.clip(lower_bound=0).alias(charge),
                    (-value).clip(lower_bound=0).alias(discharge),
                ]
        start = None
        if frame.height:
            first = frame["system_time_us"][0] / 1e6 - float(frame["time_s"][0])
            start = datetime.fromtimestamp(first, UTC) if 0 < first < 4.1e9 else None
        frame = apply_column_maps(frame.with_columns(exprs).drop("time_s"), COLUMN_MAP)
        setup = {}
        if frame.height and "cell_id" in frame.columns:
            setup["cell_id"] = int(frame["cell_id"][0])
        return RawSeries(frame=frame, family=self.family, start_time=start, test_setup=setup)


register(IndigoReader())
