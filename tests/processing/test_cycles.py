"""cycle_metrics: the §6.6 columns on a tiny steps table, null rules, and the synthetic series."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cellstore.processing.cycles import cycle_metrics
from cellstore.processing.steps import summarize_steps
from tests.processing.test_steps import cycling_series, expected_cv_capacity

OUTPUT_COLUMNS = [
    "Cycle count",
    "Discharge capacity [A.h]",
    "Charge capacity [A.h]",
    "Coulombic efficiency",
    "Capacity retention",
    "Capacity fade",
    "Discharge energy [W.h]",
    "Charge energy [W.h]",
    "Energy efficiency",
    "Energy retention",
    "Energy fade",
    "Min voltage [V]",
    "Max voltage [V]",
    "Cycle duration [s]",
    "Start time [s]",
    "Mean discharge current [A]",
    "Discharge duration [s]",
    "Mean charge current [A]",
    "Charge duration [s]",
    "Mean temperature [degC]",
    "Capacity throughput [A.h]",
    "Energy throughput [W.h]",
]


def two_cycles() -> pl.DataFrame:
    """Cycle 0: discharge 2 A.h, charge 2.5 A.h in two steps; cycle 1: discharge 1.5, charge 2."""
    return pl.DataFrame(
        {
            "Cycle count": [0, 0, 0, 0, 1, 1, 1],
            "Discharge capacity [A.h]": [2.0, 0.0, 0.0, 0.0, 1.5, 0.0, 0.0],
            "Charge capacity [A.h]": [0.0, 0.0, 2.0, 0.5, 0.0, 0.0, 2.0],
            "Discharge energy [W.h]": [7.0, 0.0, 0.0, 0.0, 5.0, 0.0, 0.0],
            "Charge energy [W.h]": [0.0, 0.0, 8.0, 2.0, 0.0, 0.0, 8.0],
            "Min voltage [V]": [3.0, 3.1, 3.2, 4.2, 3.1, 3.2, 3.3],
            "Max voltage [V]": [4.1, 3.3, 4.2, 4.2, 4.0, 3.4, 4.2],
            "Duration [s]": [100.0, 10.0, 80.0, 20.0, 90.0, 10.0, 100.0],
            "Start time [s]": [0.0, 100.0, 110.0, 190.0, 210.0, 300.0, 310.0],
            "Mean current [A]": [2.0, 0.0, -1.0, -0.5, 1.0, 0.0, -2.0],
            "Mean temperature [degC]": [30.0, 25.0, 28.0, 26.0, 31.0, 25.0, 29.0],
        }
    )


def test_cycle_metrics_of_two_cycles() -> None:
    cycles = cycle_metrics(two_cycles())
    expected = pl.DataFrame(
        {
            "Cycle count": [0, 1],
            "Discharge capacity [A.h]": [2.0, 1.5],
            "Charge capacity [A.h]": [2.5, 2.0],
            "Coulombic efficiency": [0.8, 0.75],
            "Capacity retention": [1.0, 0.75],
            "Capacity fade": [0.0, 0.25],
            "Discharge energy [W.h]": [7.0, 5.0],
            "Charge energy [W.h]": [10.0, 8.0],
            "Energy efficiency": [0.7, 0.625],
            "Energy retention": [1.0, 5 / 7],
            "Energy fade": [0.0, 2 / 7],
            "Min voltage [V]": [3.0, 3.1],
            "Max voltage [V]": [4.2, 4.2],
            "Cycle duration [s]": [210.0, 200.0],
            "Start time [s]": [0.0, 210.0],
            "Mean discharge current [A]": [2.0, 1.0],
            "Discharge duration [s]": [100.0, 90.0],
            # duration-weighted: (-1·80 + -0.5·20) / 100
            "Mean charge current [A]": [-0.9, -2.0],
            "Charge duration [s]": [100.0, 100.0],
            # (30·100 + 25·10 + 28·80 + 26·20) / 210 and (31·90 + 25·10 + 29·100) / 200
            "Mean temperature [degC]": [6010 / 210, 5940 / 200],
            "Capacity throughput [A.h]": [4.5, 8.0],
            "Energy throughput [W.h]": [17.0, 30.0],
        }
    )
    assert_frame_equal(cycles, expected)


def test_division_by_zero_gives_null() -> None:
    steps = pl.DataFrame(
        {
            "Cycle count": [0, 1],
            "Discharge capacity [A.h]": [0.0, 1.0],
            "Charge capacity [A.h]": [0.0, 1.0],
            "Discharge energy [W.h]": [0.0, 3.0],
            "Charge energy [W.h]": [0.0, 4.0],
            "Duration [s]": [0.0, 10.0],
            "Mean current [A]": [1.0, -1.0],
        }
    )
    cycles = cycle_metrics(steps)
    assert cycles["Coulombic efficiency"].to_list() == [None, 1.0]
    assert cycles["Capacity retention"].to_list() == [None, None]  # first cycle delivered nothing
    assert cycles["Capacity fade"].to_list() == [None, None]
    assert cycles["Energy efficiency"].to_list() == [None, 0.75]
    assert cycles["Mean discharge current [A]"].to_list() == [None, None]  # zero duration / no discharge
    assert cycles["Charge duration [s]"].to_list() == [None, 10.0]


def test_missing_inputs_give_null_columns_with_a_stable_schema() -> None:
    cycles = cycle_metrics(pl.DataFrame({"Cycle count": [0, 0, 1], "Duration [s]": [1.0, 2.0, 3.0]}))
    assert cycles.columns == OUTPUT_COLUMNS
    assert cycles["Cycle duration [s]"].to_list() == [3.0, 3.0]
    for name in (
        "Discharge capacity [A.h]",
        "Coulombic efficiency",
        "Energy throughput [W.h]",
        "Max voltage [V]",
    ):
        assert cycles[name].to_list() == [None, None], name
    assert cycles["Capacity throughput [A.h]"].to_list() == [None, None]


def test_without_cycle_count_the_table_is_one_cycle() -> None:
    cycles = cycle_metrics(pl.DataFrame({"Discharge capacity [A.h]": [1.0, 0.5]}))
    assert cycles["Cycle count"].to_list() == [0]
    assert cycles["Discharge capacity [A.h]"].to_list() == [1.5]


def test_cycles_are_sorted_and_the_input_is_not_changed() -> None:
    steps = two_cycles().reverse()
    original = steps.clone()
    assert cycle_metrics(steps)["Cycle count"].to_list() == [0, 1]
    assert_frame_equal(steps, original)


def test_empty_steps_give_an_empty_cycles_table() -> None:
    cycles = cycle_metrics(two_cycles().head(0))
    assert cycles.height == 0
    assert cycles.columns == OUTPUT_COLUMNS


def test_synthetic_cycling_series_coulombic_efficiency_and_fade() -> None:
    steps = summarize_steps(cycling_series().lazy(), rated_capacity_ah=1.0)
    cycles = cycle_metrics(steps)
    charge = [0.8 + expected_cv_capacity(), 0.75 + expected_cv_capacity()]
    assert cycles["Discharge capacity [A.h]"].to_list() == pytest.approx([1.0, 0.95], rel=1e-3)
    assert cycles["Charge capacity [A.h]"].to_list() == pytest.approx(charge, rel=1e-3)
    assert cycles["Coulombic efficiency"].to_list() == pytest.approx(
        [1.0 / charge[0], 0.95 / charge[1]], rel=1e-3
    )
    assert cycles["Capacity retention"].to_list() == pytest.approx([1.0, 0.95], rel=1e-3)
    assert cycles["Capacity fade"].to_list() == pytest.approx([0.0, 0.05], abs=1e-3)
    assert cycles["Mean discharge current [A]"].to_list() == pytest.approx([1.0, 1.0], rel=1e-2)
    assert cycles["Energy efficiency"][0] < cycles["Coulombic efficiency"][0]  # discharge at lower voltage
    throughput = cycles["Capacity throughput [A.h]"].to_list()
    assert throughput == pytest.approx([1.0 + charge[0], 1.0 + charge[0] + 0.95 + charge[1]], rel=1e-3)
