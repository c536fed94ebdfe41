"""Steps and cycle metrics equal ionworksdata 0.20.2's, column for column (contract §6.5, §6.6).

``ionworksdata.steps.summarize`` and ``ionworksdata.cycle_metrics.get_cycle_metrics``
run on the same series as cellstore, in memory and through the streaming file pass
with small batches (so steps straddle batch boundaries). Values agree to a relative
1e-9 (absolute 1e-12 for values that are zero up to rounding, such as the spread of
a constant step), nulls are the same, labels and counts are identical.

Documented differences, allowed here and nowhere else:

* cellstore adds ``Min/Max/Mean temperature [degC]`` per step when the series has
  ``Temperature [degC]``, and every §6.6 column per cycle (``Mean temperature
  [degC]`` included, null when it cannot be computed);
* where ionworksdata divides zero by zero in a duration-weighted mean (NaN),
  cellstore answers null, as §6.6 asks ("Division by zero → null"); NaN in the
  reference is read as null;
* an all-null column has the Null dtype in ionworksdata (its steps go through
  Python dicts) and the column's own dtype in cellstore: only values are compared.

ionworksdata is a test dependency only; see the install line in ``pyproject.toml``.
"""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest
from bench._series import RATED_CAPACITY_AH, cycling_series

from cellstore.processing import columns as c
from cellstore.processing import stream
from cellstore.processing.cycles import cycle_metrics
from cellstore.processing.pipeline import process_series
from cellstore.processing.steps import TEMPERATURE_STATS, summarize_steps

iw_steps = pytest.importorskip("ionworksdata.steps")
iw_cycles = pytest.importorskip("ionworksdata.cycle_metrics")

RTOL = 1e-9
ATOL = 1e-12
TESTDATA = Path("/work/shared/testdata")
STEP_ADDITIONS = set(TEMPERATURE_STATS)
CYCLE_ADDITIONS = {"Mean temperature [degC]"}


def reference(
    series: pl.DataFrame, rated_capacity_ah: float | None
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    spec = (
        None
        if rated_capacity_ah is None
        else {"ratings": {"capacity": {"value": rated_capacity_ah, "unit": "A.h"}}}
    )
    steps = iw_steps.summarize(series, cell_spec=spec)
    try:
        cycles = iw_cycles.get_cycle_metrics(steps)
    except Exception:  # ionworksdata cannot compute cycles without both capacity columns
        cycles = None
    return steps, cycles


def assert_same(ours: pl.DataFrame, ref: pl.DataFrame, additions: set[str]) -> None:
    assert ours.height == ref.height
    extra = set(ours.columns) - set(ref.columns)
    assert extra <= additions, f"undocumented columns {extra - additions}"
    for name in ref.columns:
        assert name in ours.columns, f"missing column {name}"
        mine, theirs = ours[name], ref[name]
        if theirs.dtype == pl.Null or mine.dtype == pl.Null:
            assert mine.is_null().all() and theirs.is_null().all(), name
            continue
        if theirs.dtype.is_numeric():
            assert mine.dtype.is_numeric(), name
            for row, (a, b) in enumerate(zip(mine.to_list(), theirs.to_list(), strict=True)):
                if b is not None and isinstance(b, float) and math.isnan(b):
                    b = None  # §6.6: division by zero is null, never NaN
                assert (a is None) == (b is None), f"{name} row {row}: {a!r} vs {b!r}"
                if a is not None:
                    assert math.isclose(a, b, rel_tol=RTOL, abs_tol=ATOL), f"{name} row {row}: {a!r} vs {b!r}"
        else:
            assert mine.cast(pl.String).to_list() == theirs.cast(pl.String).to_list(), name


def assert_matches(
    series: pl.DataFrame, rated_capacity_ah: float | None, tmp_path: Path | None = None, batch_rows: int = 997
) -> pl.DataFrame:
    """Both cellstore paths (in memory; streaming from a file in small batches) equal ionworksdata."""
    ref_steps, ref_cycles = reference(series, rated_capacity_ah)
    in_memory = summarize_steps(series.lazy(), rated_capacity_ah)
    streamed = stream.summarize_frames(
        (series.slice(i, batch_rows) for i in range(0, series.height, batch_rows)),
        series.schema,
        rated_capacity_ah,
    )
    for steps in (in_memory, streamed):
        assert_same(steps, ref_steps, STEP_ADDITIONS)
        if ref_cycles is not None:
            assert_same(cycle_metrics(steps), ref_cycles, CYCLE_ADDITIONS)
    if tmp_path is not None:
        path = tmp_path / "series.parquet"
        series.write_parquet(path, row_group_size=4096)
        summary = stream.summarize_file(path, rated_capacity_ah, batch_rows=batch_rows)
        assert_same(summary.steps, ref_steps, STEP_ADDITIONS)
    return in_memory


# --- the realistic series ---------------------------------------------------------------


@pytest.mark.parametrize("rated_capacity_ah", [RATED_CAPACITY_AH, None, 0.2])
def test_synthetic_cycling_series(tmp_path: Path, rated_capacity_ah: float | None) -> None:
    series = cycling_series(40_000, scale=0.05)
    steps = assert_matches(series, rated_capacity_ah, tmp_path)
    if rated_capacity_ah == RATED_CAPACITY_AH:
        assert set(steps["Step type"]) == {
            "Constant current discharge",
            "Rest",
            "Constant current charge",
            "Constant voltage charge",
        }


def test_whole_pipeline_output_files_equal_the_reference(tmp_path: Path) -> None:
    series = cycling_series(30_000, scale=0.05, seed=3)
    path = tmp_path / "series.parquet"
    series.write_parquet(path)
    process_series(path, tmp_path / "steps.parquet", tmp_path / "cycles.parquet", rated_capacity_ah=5.0)
    ref_steps, ref_cycles = reference(series, 5.0)
    assert_same(pl.read_parquet(tmp_path / "steps.parquet"), ref_steps, STEP_ADDITIONS)
    assert ref_cycles is not None
    assert_same(pl.read_parquet(tmp_path / "cycles.parquet"), ref_cycles, CYCLE_ADDITIONS)


def test_temperature_additions() -> None:
    """Per-step min/max/mean temperature, and the cycles' duration-weighted mean of ionworksdata's formula."""
    series = cycling_series(20_000, scale=0.05)
    steps = summarize_steps(series.lazy(), RATED_CAPACITY_AH)
    by_step = series.group_by(c.STEP_COUNT, maintain_order=True).agg(
        pl.col(c.TEMPERATURE).min().alias(TEMPERATURE_STATS[0]),
        pl.col(c.TEMPERATURE).max().alias(TEMPERATURE_STATS[1]),
        pl.col(c.TEMPERATURE).mean().alias(TEMPERATURE_STATS[2]),
    )
    assert_same(steps.select(c.STEP_COUNT, *TEMPERATURE_STATS), by_step, set())
    ref_steps, _ = reference(series, RATED_CAPACITY_AH)
    ref_cycles = iw_cycles.get_cycle_metrics(ref_steps.with_columns(by_step[TEMPERATURE_STATS[2]]))
    assert_same(cycle_metrics(steps), ref_cycles, set())


# --- edge cases -------------------------------------------------------------------------


def small(**columns: list) -> pl.DataFrame:
    base = {
        "Time [s]": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
        "Voltage [V]": [4.0, 4.0, 4.1, 3.9, 3.8, 3.7, 3.6, 3.6, 3.61, 3.62],
        "Step count": [0, 0, 1, 1, 1, 2, 3, 3, 3, 3],
    }
    return pl.DataFrame({**base, **columns})


CURRENT = [1.0, 1.0, 0.0, 0.0, 0.0, -1.0, 2.0, 2.0, 2.1, 1.5]
CAPACITIES = {
    "Discharge capacity [A.h]": [0.0, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 0.4, 0.5],
    "Charge capacity [A.h]": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
}
ENERGIES = {
    "Discharge energy [W.h]": [0.0, 0.4, 0.0, 0.0, 0.0, 0.0, 0.0, 0.7, 1.4, 1.8],
    "Charge energy [W.h]": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
}

EDGE_CASES = {
    "no current": small(),
    "current, no capacity": small(**{"Current [A]": CURRENT}),
    "only one capacity counter": small(
        **{"Current [A]": CURRENT, "Discharge capacity [A.h]": CAPACITIES["Discharge capacity [A.h]"]}
    ),
    "capacity, no energy": small(**{"Current [A]": CURRENT, **CAPACITIES}),
    "capacity and energy": small(**{"Current [A]": CURRENT, **CAPACITIES, **ENERGIES}),
    "energy, no capacity": small(**{"Current [A]": CURRENT, **ENERGIES}),
    "EIS rows": small(
        **{"Current [A]": CURRENT, "Frequency [Hz]": [None, None, 1e3, 1e2, 10.0] + [None] * 5, **CAPACITIES}
    ),
    "cycler numbering, cycle changing mid-step": small(
        **{
            "Current [A]": CURRENT,
            **CAPACITIES,
            "Cycle from cycler": [1, 1, 1, 2, 2, 2, 2, 3, 3, 3],
            "Step from cycler": [1, 1, 2, 2, 2, 3, 4, 4, 4, 4],
        }
    ),
    "frame": small(
        **{"Current [A]": CURRENT, **CAPACITIES, "Frame": ["a", "a", "b", "b", "b", "c", "d", "d", "d", "d"]}
    ),
    "one step": small(**{"Current [A]": CURRENT, **CAPACITIES}).with_columns(pl.lit(0).alias("Step count")),
    "single-row steps": small(**{"Current [A]": CURRENT, **CAPACITIES}).with_columns(
        pl.int_range(10).alias("Step count")
    ),
    "SOC axis, no time": small(
        **{"Current [A]": CURRENT, **CAPACITIES, "SOC": [0.1 * k for k in range(10)]}
    ).drop("Time [s]"),
    "single Capacity column split by current": small(
        **{"Current [A]": CURRENT, "Capacity [A.h]": [0.0, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.25, 0.45, 0.55]}
    ),
    "Capacity column beside both counters (absolute values)": small(
        **{
            "Current [A]": CURRENT,
            "Capacity [A.h]": [0.0, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.25, 0.45, 0.55],
            **CAPACITIES,
            "Charge capacity [A.h]": [0.0, -0.1, 0.0, 0.0, 0.0, 0.0, 0.0, -0.2, -0.3, -0.5],
        }
    ),
    "Capacity column, no current": small(**{"Capacity [A.h]": [0.1 * k for k in range(10)]}),
    "zero-duration discharge step": small(
        **{"Current [A]": CURRENT, **CAPACITIES},
        **{"Time [s]": [0.0, 0.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]},
    ),
}


@pytest.mark.parametrize("name", list(EDGE_CASES))
@pytest.mark.parametrize("rated_capacity_ah", [None, 1.0])
def test_edge_cases(name: str, rated_capacity_ah: float | None) -> None:
    assert_matches(EDGE_CASES[name], rated_capacity_ah, batch_rows=3)


# --- real cycler data from the shared test data -------------------------------------------

NEWARE_REFERENCES = sorted((TESTDATA / "neware_ndax" / "reference").glob("fastnda_*.parquet")) + sorted(
    (TESTDATA / "neware_nda" / "reference").glob("fastnda_*.parquet")
)


def neware_as_series(path: Path) -> pl.DataFrame:
    """A Neware BTSDA export (fastnda's ground truth) in §6.1 columns; only this test maps it."""
    raw = pl.read_parquet(path)
    current = pl.col("Current(uA)").cast(pl.Float64) / 1e6
    capacity = pl.col("Capacity(mAs)").cast(pl.Float64).abs() / 3.6e6
    energy = pl.col("Energy(mWs)").cast(pl.Float64).abs() / 3.6e6
    discharge = current < 0  # Neware logs discharge as negative; §6.1 wants it positive
    return raw.select(
        pl.col("Total Time").cast(pl.Float64).alias("Time [s]"),
        (pl.col("Voltage(mV)").cast(pl.Float64) / 1e3).alias("Voltage [V]"),
        (-current).alias("Current [A]"),
        pl.col("Step Count").rle_id().cast(pl.Int64).alias("Step count"),
        pl.col("Step Index").cast(pl.Int64).alias("Step from cycler"),
        pl.col("Cycle Index").cast(pl.Int64).alias("Cycle from cycler"),
        pl.when(discharge).then(capacity).otherwise(0.0).alias("Discharge capacity [A.h]"),
        pl.when(discharge).then(0.0).otherwise(capacity).alias("Charge capacity [A.h]"),
        pl.when(discharge).then(energy).otherwise(0.0).alias("Discharge energy [W.h]"),
        pl.when(discharge).then(0.0).otherwise(energy).alias("Charge energy [W.h]"),
    )


@pytest.mark.skipif(not NEWARE_REFERENCES, reason="the shared test data is not on this machine")
@pytest.mark.parametrize("path", NEWARE_REFERENCES, ids=lambda p: p.stem)
def test_real_neware_series(tmp_path: Path, path: Path) -> None:
    series = neware_as_series(path)
    if series.height == 0:
        pytest.skip("empty file")
    if not series["Time [s]"].diff().drop_nulls().ge(-1e-12).all():
        pytest.skip("time goes backwards in this export")
    assert_matches(series, None, tmp_path, batch_rows=4099)
    assert_matches(series, 1.0)


def test_series_with_one_capacity_column(tmp_path: Path) -> None:
    """A cycler that logs one capacity counter rising on charge and falling on discharge."""
    series = cycling_series(30_000, scale=0.05).drop(
        "Discharge capacity [A.h]", "Charge capacity [A.h]", "Discharge energy [W.h]", "Charge energy [W.h]"
    )
    series = series.with_columns((-pl.col("Current [A]")).cum_sum().truediv(3600).alias("Capacity [A.h]"))
    steps = assert_matches(series, RATED_CAPACITY_AH, tmp_path)
    assert steps["Discharge capacity [A.h]"].max() > 0.2
