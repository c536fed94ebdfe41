"""summarize_steps: each rule of contract §6.5 on tiny frames, then a realistic cycling series."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest
from bench._series import cycling_series as bench_cycling_series
from polars.testing import assert_frame_equal

from cellstore.processing.errors import SeriesError
from cellstore.processing.steps import (
    Tolerances,
    aggregate,
    prepare,
    refinish,
    step_tolerances,
    summarize_steps,
    used_columns,
)
from cellstore.processing.validation import validate_series

DT = 10.0  # seconds between samples of the synthetic series


def summarize(data: dict[str, list], **kwargs: float) -> pl.DataFrame:
    return summarize_steps(pl.DataFrame(data, strict=False).lazy(), **kwargs)


# --- position, start/end values -------------------------------------------------------------


def test_one_row_per_contiguous_step_with_row_offsets_and_times() -> None:
    steps = summarize(
        {
            "Step count": [0, 0, 1, 1, 1, 2],
            "Time [s]": [0.0, 1.0, 2.0, 3.0, 5.0, 6.0],
            "Voltage [V]": [3.0, 3.1, 3.2, 3.3, 3.4, 3.5],
            "Current [A]": [0.0, 0.0, 1.0, 1.0, 1.0, 0.0],
        }
    )
    expected = pl.DataFrame(
        {
            "Step count": [0, 1, 2],
            "Start index": [0, 2, 5],
            "End index": [1, 4, 5],
            "Start time [s]": [0.0, 2.0, 6.0],
            "End time [s]": [1.0, 5.0, 6.0],
            "Duration [s]": [1.0, 3.0, 0.0],
            "Start voltage [V]": [3.0, 3.2, 3.5],
            "End voltage [V]": [3.1, 3.4, 3.5],
        }
    )
    assert_frame_equal(steps.select(expected.columns), expected)


def test_without_time_or_voltage_the_start_and_end_values_are_null() -> None:
    steps = summarize({"Step count": [0, 0, 1], "Current [A]": [1.0, 1.0, 0.0]})
    for name in ("Start time [s]", "End time [s]", "Duration [s]", "Start voltage [V]", "Min voltage [V]"):
        assert steps[name].to_list() == [None, None], name
    assert steps["Start index"].to_list() == [0, 2]


def test_step_count_is_required() -> None:
    with pytest.raises(SeriesError, match="Missing required column 'Step count'"):
        summarize({"Time [s]": [0.0]})


# --- capacity and energy --------------------------------------------------------------------


def test_capacity_and_energy_are_last_minus_first_of_the_cumulative_columns() -> None:
    steps = summarize(
        {
            "Step count": [0, 0, 0, 1, 1],
            "Discharge capacity [A.h]": [0.0, 0.5, 1.25, 0.0, 0.0],
            "Charge capacity [A.h]": [0.0, 0.0, 0.0, 0.1, 0.6],
            "Discharge energy [W.h]": [0.0, 2.0, 4.5, 0.0, 0.0],
            "Charge energy [W.h]": [0.0, 0.0, 0.0, 0.5, 2.5],
        }
    )
    expected = pl.DataFrame(
        {
            "Discharge capacity [A.h]": [1.25, 0.0],
            "Charge capacity [A.h]": [0.0, 0.5],
            "Discharge energy [W.h]": [4.5, 0.0],
            "Charge energy [W.h]": [0.0, 2.0],
        }
    )
    assert_frame_equal(steps.select(expected.columns), expected)


def test_energy_is_zero_when_only_capacity_exists_and_null_when_neither() -> None:
    capacities = {"Discharge capacity [A.h]": [0.0, 1.0], "Charge capacity [A.h]": [0.0, 0.0]}
    with_capacity = summarize({"Step count": [0, 0], **capacities})
    assert with_capacity["Discharge capacity [A.h]"].to_list() == [1.0]
    assert with_capacity["Discharge energy [W.h]"].to_list() == [0.0]
    assert with_capacity["Charge energy [W.h]"].to_list() == [0.0]

    # As in ionworksdata, capacities need both counters.
    one_counter = summarize({"Step count": [0, 0], "Discharge capacity [A.h]": [0.0, 1.0]})
    for name in ("Discharge capacity [A.h]", "Charge capacity [A.h]", "Discharge energy [W.h]"):
        assert one_counter[name].to_list() == [None], name

    without = summarize({"Step count": [0, 0]})
    for name in ("Discharge capacity [A.h]", "Charge capacity [A.h]", "Discharge energy [W.h]"):
        assert without[name].to_list() == [None], name
    assert without["Cycle discharge capacity [A.h]"].to_list() == [None]
    assert without["Cycle charge energy [W.h]"].to_list() == [None]


# --- statistics -----------------------------------------------------------------------------


def test_statistics_of_voltage_current_power_and_absent_frequency() -> None:
    steps = summarize(
        {"Step count": [0, 0, 0], "Voltage [V]": [4.0, 3.0, 2.0], "Current [A]": [1.0, 2.0, 2.0]}
    )
    row = steps.row(0, named=True)
    assert (row["Min voltage [V]"], row["Max voltage [V]"], row["Mean voltage [V]"]) == (2.0, 4.0, 3.0)
    assert (row["Min current [A]"], row["Max current [A]"]) == (1.0, 2.0)
    assert row["Mean current [A]"] == pytest.approx(5 / 3)
    # power = V·I per sample: 4, 6, 4
    assert (row["Min power [W]"], row["Max power [W]"]) == (4.0, 6.0)
    assert row["Mean power [W]"] == pytest.approx(14 / 3)
    assert [row[f"{k} frequency [Hz]"] for k in ("Min", "Max", "Mean", "Std")] == [0.0, 0.0, 0.0, 0.0]


def test_power_statistics_are_null_without_current() -> None:
    steps = summarize({"Step count": [0, 0], "Voltage [V]": [4.0, 3.0]})
    assert steps["Mean power [W]"].to_list() == [None]
    assert steps["Std power [W]"].to_list() == [None]
    assert steps["Step type"].to_list() == ["Unknown step type"]


@pytest.mark.parametrize(
    ("voltages", "expected_std"),
    [
        ([9.0], 0.0),  # one sample: no spread
        ([9.0, 1.0], math.sqrt(32.0)),  # two samples: nothing is dropped
        ([9.0, 1.0, 3.0], math.sqrt(2.0)),  # <= 3 samples: only the first is dropped
        ([9.0, 1.0, 2.0, 3.0, 50.0], 1.0),  # > 3 samples: first and last are dropped
    ],
)
def test_std_drops_the_first_past_two_samples_and_the_last_past_three(
    voltages: list[float], expected_std: float
) -> None:
    steps = summarize({"Step count": [0] * len(voltages), "Voltage [V]": voltages})
    assert steps["Std voltage [V]"][0] == pytest.approx(expected_std)
    assert steps["Max voltage [V]"][0] == max(voltages)  # min/max/mean still use every sample


def test_temperature_statistics_only_when_the_column_exists() -> None:
    steps = summarize({"Step count": [0, 0, 1], "Temperature [degC]": [20.0, 30.0, 25.0]})
    expected = pl.DataFrame(
        {
            "Min temperature [degC]": [20.0, 25.0],
            "Max temperature [degC]": [30.0, 25.0],
            "Mean temperature [degC]": [25.0, 25.0],
        }
    )
    assert_frame_equal(steps.select(expected.columns), expected)
    assert "Mean temperature [degC]" not in summarize({"Step count": [0]}).columns


# --- cycler numbering and cycle count -------------------------------------------------------


def test_cycler_numbers_are_the_first_value_and_cycle_count_counts_changes() -> None:
    steps = summarize(
        {
            "Step count": [0, 0, 1, 1, 2, 3, 4],
            "Step from cycler": [5, 6, 7, 7, 1, 2, 1],
            "Cycle from cycler": [1, 1, 1, 1, 2, 2, 3],
            "Cycle count": [9, 9, 9, 9, 9, 9, 9],  # a series' own Cycle count is not read
        }
    )
    expected = pl.DataFrame(
        {
            "Step count": [0, 1, 2, 3, 4],
            "Cycle count": [0, 0, 1, 1, 2],
            "Step from cycler": [5, 7, 1, 2, 1],
            "Cycle from cycler": [1, 1, 2, 2, 3],
        }
    )
    assert_frame_equal(steps.select(expected.columns), expected)


def test_without_cycle_from_cycler_everything_is_cycle_zero_and_cycler_numbers_are_null() -> None:
    steps = summarize({"Step count": [0, 1, 2]})
    assert steps["Cycle count"].to_list() == [0, 0, 0]
    assert steps["Step from cycler"].to_list() == [None, None, None]
    assert steps["Cycle from cycler"].dtype == pl.Int64


def test_frame_column_is_carried_only_when_present() -> None:
    assert summarize({"Step count": [0, 0, 1], "Frame": [7, 8, 9]})["Frame"].to_list() == [7, 9]
    assert "Frame" not in summarize({"Step count": [0]}).columns


# --- step types -----------------------------------------------------------------------------


def typed(voltage: list[float], current: list[float], **kwargs: float) -> str:
    steps = summarize(
        {"Step count": [0] * len(voltage), "Voltage [V]": voltage, "Current [A]": current}, **kwargs
    )
    return steps["Step type"][0]


def test_step_types() -> None:
    assert typed([3.5, 3.5, 3.5], [0.0, 0.0005, -0.0005]) == "Rest"
    assert typed([4.0, 3.9, 3.8, 3.7], [2.0, 2.0, 2.0, 2.0]) == "Constant current discharge"
    assert typed([3.0, 3.1, 3.2, 3.3], [-1.0, -1.0, -1.0, -1.0]) == "Constant current charge"
    assert typed([4.2, 4.2, 4.2, 4.2, 4.2], [-1.0, -0.8, -0.5, -0.3, -0.1]) == "Constant voltage charge"
    # constant power 4 W discharge: V·I stays 4 while both change
    assert typed([4.0, 4.0, 3.2, 2.5, 2.0], [1.0, 1.0, 1.25, 1.6, 2.0]) == "Constant power discharge"
    assert typed([4.0, 3.0, 2.0, 4.0, 2.0], [1.0, 2.0, 0.5, 1.5, 1.0]) == "Unknown step type"


def test_eis_steps_are_labelled_from_frequency() -> None:
    steps = summarize(
        {
            "Step count": [0, 0, 1, 1],
            "Voltage [V]": [3.7, 3.7, 3.7, 3.7],
            "Current [A]": [0.0, 0.0, 0.0, 0.0],
            "Frequency [Hz]": [1000.0, 100.0, 0.0, 0.0],
        }
    )
    assert steps["Step type"].to_list() == ["EIS", "Rest"]
    assert steps["Mean frequency [Hz]"].to_list() == [550.0, 0.0]


def test_a_transition_sample_at_the_start_does_not_spoil_a_constant_current_step() -> None:
    assert (
        typed([3.7, 3.7, 3.6, 3.5, 3.4, 3.3], [0.0, 1.0, 1.0, 1.0, 1.0, 1.0]) == "Constant current discharge"
    )


def test_tolerances_are_capped_by_rated_capacity_or_largest_current() -> None:
    assert step_tolerances(None, None) == Tolerances(rest=1e-3, constant_current=1e-2)
    assert step_tolerances(5.0, 10.0) == Tolerances(rest=1e-3, constant_current=1e-2)
    assert step_tolerances(0.1, 10.0) == Tolerances(rest=1e-4, constant_current=5e-4)
    assert step_tolerances(None, 0.02) == Tolerances(
        rest=pytest.approx(2e-4), constant_current=pytest.approx(2e-4)
    )
    assert step_tolerances(None, 5.0) == Tolerances(rest=1e-3, constant_current=1e-2)


def test_small_cell_current_is_not_mistaken_for_rest() -> None:
    # A 5 mAh coin cell at C/10 draws 0.5 mA: below the default 1 mA rest tolerance.
    voltage, current = [3.7, 3.6, 3.5, 3.4], [0.0005] * 4
    assert typed(voltage, current, rated_capacity_ah=0.005) == "Constant current discharge"
    assert typed(voltage, current) == "Constant current discharge"  # capped at 1 % of max |I|
    assert typed(voltage, current, rated_capacity_ah=5.0) == "Rest"


# --- cycle sums, laziness, purity -----------------------------------------------------------


def test_cycle_sums_are_joined_onto_every_step_of_the_cycle() -> None:
    steps = summarize(
        {
            "Step count": [0, 0, 1, 1, 2, 2],
            "Cycle from cycler": [1, 1, 1, 1, 2, 2],
            "Discharge capacity [A.h]": [0.0, 1.0, 0.0, 0.0, 0.0, 0.9],
            "Charge capacity [A.h]": [0.0, 0.0, 0.0, 1.1, 0.0, 0.0],
        }
    )
    expected = pl.DataFrame(
        {
            "Cycle count": [0, 0, 1],
            "Cycle discharge capacity [A.h]": [1.0, 1.0, 0.9],
            "Cycle charge capacity [A.h]": [1.1, 1.1, 0.0],
            "Cycle discharge energy [W.h]": [0.0, 0.0, 0.0],
        }
    )
    assert_frame_equal(steps.select(expected.columns), expected)


def test_scanned_parquet_and_in_memory_frames_give_the_same_steps(tmp_path: Path) -> None:
    df = cycling_series(cycles=1)
    path = tmp_path / "series.parquet"
    df.write_parquet(path)
    original = df.clone()
    assert_frame_equal(summarize_steps(pl.scan_parquet(path)), summarize_steps(df.lazy()))
    assert_frame_equal(df, original)


def test_an_empty_series_has_no_steps() -> None:
    steps = summarize_steps(pl.LazyFrame({"Step count": []}, schema={"Step count": pl.Int64}))
    assert steps.height == 0
    assert "Step type" in steps.columns


# --- a realistic synthetic cycling series --------------------------------------------------


def _segment(
    step: int, cycle: int, cycler_step: int, current: list[float], voltage: list[float]
) -> dict[str, list]:
    """One step's rows with capacity/energy counters reset at the step start (§6.1)."""
    discharge_q, charge_q, discharge_e, charge_e = [0.0], [0.0], [0.0], [0.0]
    for i, v in zip(current[1:], voltage[1:], strict=True):
        discharge_q.append(discharge_q[-1] + max(i, 0.0) * DT / 3600)
        charge_q.append(charge_q[-1] + max(-i, 0.0) * DT / 3600)
        discharge_e.append(discharge_e[-1] + max(i, 0.0) * v * DT / 3600)
        charge_e.append(charge_e[-1] + max(-i, 0.0) * v * DT / 3600)
    n = len(current)
    return {
        "Step count": [step] * n,
        "Cycle from cycler": [cycle] * n,
        "Step from cycler": [cycler_step] * n,
        "Current [A]": current,
        "Voltage [V]": voltage,
        "Discharge capacity [A.h]": discharge_q,
        "Charge capacity [A.h]": charge_q,
        "Discharge energy [W.h]": discharge_e,
        "Charge energy [W.h]": charge_e,
    }


def _ramp(start: float, end: float, n: int) -> list[float]:
    return [start + (end - start) * k / (n - 1) for k in range(n)]


def _noise(n: int, amplitude: float) -> list[float]:
    return [amplitude * (1 if k % 2 else -1) for k in range(n)]


#: Samples per segment; a CC step of n samples at 1 A moves (n - 1) * DT / 3600 A.h.
DISCHARGE_SAMPLES = (361, 343)  # 1.00 A.h then 0.95 A.h: 5 % fade
CC_CHARGE_SAMPLES = (289, 271)  # 0.80 then 0.75 A.h
CV_SAMPLES = 181
REST_SAMPLES = 61


def cycling_series(cycles: int = 2) -> pl.DataFrame:
    """CC discharge, rest, CC charge, CV hold, rest — per cycle, at 1 A on a 1 A.h cell.

    Current is +1 A on discharge with a 0 A transition sample first (as cyclers
    log it), noise of 0.1 mA, voltage ramps, a CV hold at 4.2 V whose current decays
    from -0.5 A to -0.05 A, and capacity/energy counters reset at each step.
    """
    parts: list[dict[str, list]] = []
    step = 0
    for k in range(cycles):
        n_dis, n_cc = DISCHARGE_SAMPLES[k], CC_CHARGE_SAMPLES[k]
        discharge_current = [0.0] + [1.0 + e for e in _noise(n_dis - 1, 1e-4)]
        segments = [
            (discharge_current, _ramp(4.1, 3.0, n_dis)),
            ([0.0] * REST_SAMPLES, _ramp(3.0, 3.3, REST_SAMPLES)),
            ([-1.0 + e for e in _noise(n_cc, 1e-4)], _ramp(3.4, 4.2, n_cc)),
            (_ramp(-0.5, -0.05, CV_SAMPLES), [4.2 + e for e in _noise(CV_SAMPLES, 2e-4)]),
            ([0.0] * REST_SAMPLES, _ramp(4.15, 4.1, REST_SAMPLES)),
        ]
        for cycler_step, (current, voltage) in enumerate(segments, start=1):
            parts.append(_segment(step, k + 1, cycler_step, current, voltage))
            step += 1
    frame = pl.concat([pl.DataFrame(p) for p in parts])
    return frame.with_columns(
        (pl.int_range(pl.len(), dtype=pl.Int64) * DT).cast(pl.Float64).alias("Time [s]"),
        (25.0 + pl.col("Current [A]").abs()).alias("Temperature [degC]"),
    )


def expected_cv_capacity() -> float:
    return sum(abs(i) for i in _ramp(-0.5, -0.05, CV_SAMPLES)[1:]) * DT / 3600


def test_synthetic_cycling_series_steps() -> None:
    series = validate_series(cycling_series().lazy())
    steps = summarize_steps(series, rated_capacity_ah=1.0)

    cycle_types = [
        "Constant current discharge",
        "Rest",
        "Constant current charge",
        "Constant voltage charge",
        "Rest",
    ]
    assert steps["Step type"].to_list() == cycle_types * 2
    assert steps["Cycle count"].to_list() == [0] * 5 + [1] * 5
    assert steps["Step from cycler"].to_list() == [1, 2, 3, 4, 5] * 2
    assert steps["Step count"].to_list() == list(range(10))
    assert steps["Start index"][1:].to_list() == [e + 1 for e in steps["End index"][:-1].to_list()]
    assert steps["End index"][-1] == series.collect().height - 1

    discharge = steps.filter(pl.col("Step type") == "Constant current discharge")
    assert discharge["Discharge capacity [A.h]"].to_list() == pytest.approx([1.0, 0.95], rel=1e-3)
    assert discharge["Duration [s]"].to_list() == [3600.0, 3420.0]
    cv = steps.filter(pl.col("Step type") == "Constant voltage charge")
    assert cv["Charge capacity [A.h]"].to_list() == pytest.approx([expected_cv_capacity()] * 2)

    cycle_charge = [0.8 + expected_cv_capacity(), 0.75 + expected_cv_capacity()]
    by_cycle = steps.group_by("Cycle count", maintain_order=True).agg(
        pl.col("Cycle charge capacity [A.h]").first(), pl.col("Cycle discharge capacity [A.h]").first()
    )
    assert by_cycle["Cycle charge capacity [A.h]"].to_list() == pytest.approx(cycle_charge, rel=1e-3)
    assert by_cycle["Cycle discharge capacity [A.h]"].to_list() == pytest.approx([1.0, 0.95], rel=1e-3)


# --- refinish: an extension's steps finished without finishing every earlier step again ----


def _refinished(whole: pl.DataFrame, before: int, rated: float | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The steps of ``whole`` by :func:`refinish` (from the steps of its first ``before`` rows and
    those of the rest aggregated from the previous last step on), and by summarising it whole."""
    has = set(used_columns(whole.schema))
    previous = summarize_steps(whole.head(before).lazy(), rated_capacity_ah=rated)
    aggregated = aggregate(prepare(whole.select(used_columns(whole.schema)), has), has)
    tail = aggregated.filter(pl.col("Step count") >= previous["Step count"][-1])
    return refinish(previous, tail, has, rated), summarize_steps(whole.lazy(), rated_capacity_ah=rated)


@pytest.mark.parametrize("rated", [5.0, None])
@pytest.mark.parametrize("before", [1, 700, 3_000])
def test_refinish_equals_summarising_the_whole(rated: float | None, before: int) -> None:
    refinished, whole = _refinished(bench_cycling_series(4_000, scale=0.05), before, rated)
    assert whole["Cycle count"].n_unique() > 3
    assert_frame_equal(refinished, whole)


def test_refinish_keeps_the_earlier_cycles_as_stored() -> None:
    """Only the tail's cycle is finished again: what the earlier steps say is taken as it is."""
    series = bench_cycling_series(4_000, scale=0.05)
    has = set(used_columns(series.schema))
    previous = summarize_steps(series.head(3_000).lazy(), rated_capacity_ah=5.0)
    last_cycle = previous["Cycle count"][-1]
    stored = pl.when(pl.col("Cycle count") < last_cycle).then(pl.lit("as stored"))
    marked = previous.with_columns(stored.otherwise(pl.col("Step type")).alias("Step type"))
    aggregated = aggregate(prepare(series.select(used_columns(series.schema)), has), has)
    tail = aggregated.filter(pl.col("Step count") >= previous["Step count"][-1])
    refinished = refinish(marked, tail, has, 5.0)
    earlier = refinished["Cycle count"] < last_cycle
    assert (refinished.filter(earlier)["Step type"] == "as stored").all()
    assert not (refinished.filter(~earlier)["Step type"] == "as stored").any()


def test_refinish_labels_every_step_again_when_a_larger_current_moves_the_tolerances() -> None:
    """Without a rated capacity the tolerances follow the largest current, which new rows can raise."""
    series = bench_cycling_series(4_000, scale=0.05)
    spike = pl.when(pl.int_range(pl.len()) == 3_500).then(900.0)
    spiked = series.with_columns(spike.otherwise(pl.col("Current [A]")).alias("Current [A]"))
    refinished, whole = _refinished(spiked, 3_000, None)
    before = summarize_steps(series.lazy())
    assert not whole["Step type"].equals(before["Step type"])  # the spike relabels earlier steps
    assert_frame_equal(refinished, whole)


def test_refinish_sums_cycles_again_when_a_counter_is_first_measured_in_the_new_rows() -> None:
    """A counter null on every earlier step gave null cycle sums; once measured, every cycle sums it."""
    series = bench_cycling_series(4_000, scale=0.05)
    late = series.with_columns(
        pl.when(pl.int_range(pl.len()) >= 3_000).then(pl.col(name)).alias(name)
        for name in ("Discharge energy [W.h]", "Charge energy [W.h]")
    )
    refinished, whole = _refinished(late, 3_000, 5.0)
    assert whole["Cycle discharge energy [W.h]"].null_count() == 0
    assert_frame_equal(refinished, whole)
