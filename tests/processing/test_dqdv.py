"""dQ/dV of a synthetic cell whose open-circuit voltage has a known plateau.

The synthetic cell's state of charge against OCV has a sigmoid step at ``PLATEAU_V``: the OCV
is nearly flat there, so incremental capacity must peak there, shifted by the IR drop (down on
discharge, up on charge). The helpers are used by the API tests as well.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cellstore.processing import dqdv as ic

CAPACITY_AH = 2.0
RESISTANCE = 0.05
CURRENT_A = 1.0
PLATEAU_V = 3.65
V_LOW, V_HIGH = 3.0, 4.2
PLATEAU_SHARE, PLATEAU_WIDTH = 0.3, 0.01


def soc_of_ocv(v: np.ndarray) -> np.ndarray:
    """State of charge at open-circuit voltage ``v``: linear plus a sigmoid step (the plateau)."""

    def raw(x: np.ndarray) -> np.ndarray:
        return (1 - PLATEAU_SHARE) * (x - V_LOW) / (V_HIGH - V_LOW) + PLATEAU_SHARE / (
            1 + np.exp(-(x - PLATEAU_V) / PLATEAU_WIDTH)
        )

    low, high = raw(np.array([V_LOW]))[0], raw(np.array([V_HIGH]))[0]
    return (raw(v) - low) / (high - low)


_GRID = np.linspace(V_LOW, V_HIGH, 200_001)
_SOC = soc_of_ocv(_GRID)


def ocv(soc: np.ndarray) -> np.ndarray:
    return np.interp(soc, _SOC, _GRID)


def true_dqdv(v: float) -> float:
    """The synthetic cell's exact incremental capacity at open-circuit voltage ``v`` (A.h/V)."""
    h = 1e-6
    return float(
        CAPACITY_AH * (soc_of_ocv(np.array([v + h]))[0] - soc_of_ocv(np.array([v - h]))[0]) / (2 * h)
    )


def synthetic_cycles(cycles: int = 2, *, seed: int = 0, start_time: float = 0.0) -> pl.DataFrame:
    """1 Hz cycling: CC discharge, rest, CC charge, CV hold, rest; five steps per cycle.

    Current is positive on discharge. Cumulative capacities restart at every step.
    """
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("t", "v", "i", "step", "cyc", "qd", "qc")}
    soc, step, t = 0.98, 0, start_time

    def add(v: np.ndarray, i: np.ndarray, cycle: int) -> None:
        nonlocal step, t
        n = v.size
        dq = np.concatenate(([0.0], np.cumsum((np.abs(i[1:]) + np.abs(i[:-1])) / 2) / 3600))
        parts["t"].append(t + np.arange(n, dtype=float))
        parts["v"].append(v + rng.normal(0, 2e-4, n))
        parts["i"].append(i)
        parts["step"].append(np.full(n, step))
        parts["cyc"].append(np.full(n, cycle + 1))
        parts["qd"].append(dq if i.mean() > 0 else np.zeros(n))
        parts["qc"].append(dq if i.mean() < 0 else np.zeros(n))
        step += 1
        t += n

    for cycle in range(cycles):
        n = int(0.96 * CAPACITY_AH * 3600 / CURRENT_A)
        s = soc - CURRENT_A * np.arange(n) / 3600 / CAPACITY_AH
        add(ocv(s) - CURRENT_A * RESISTANCE, np.full(n, CURRENT_A), cycle)
        soc = s[-1]
        k = np.arange(600)
        add(ocv(np.full(600, soc)) - 0.02 * np.exp(-k / 60), np.zeros(600), cycle)
        n = int(0.93 * CAPACITY_AH * 3600 / CURRENT_A)
        s = soc + CURRENT_A * np.arange(n) / 3600 / CAPACITY_AH
        add(ocv(s) + CURRENT_A * RESISTANCE, np.full(n, -CURRENT_A), cycle)
        soc = s[-1]
        hold = ocv(np.array([soc]))[0] + CURRENT_A * RESISTANCE
        current = -CURRENT_A * np.exp(-np.arange(900) / 300)
        add(np.full(900, hold), current, cycle)
        soc += float(np.sum(-current)) / 3600 / CAPACITY_AH
        add(ocv(np.full(600, soc)) + 0.02 * np.exp(-k / 60), np.zeros(600), cycle)
        soc = 0.98
    return pl.DataFrame(
        {
            "Time [s]": np.concatenate(parts["t"]),
            "Voltage [V]": np.concatenate(parts["v"]),
            "Current [A]": np.concatenate(parts["i"]),
            "Step count": np.concatenate(parts["step"]).astype(np.int64),
            "Cycle from cycler": np.concatenate(parts["cyc"]).astype(np.int64),
            "Discharge capacity [A.h]": np.concatenate(parts["qd"]),
            "Charge capacity [A.h]": np.concatenate(parts["qc"]),
        }
    )


STEP_TYPES = (
    "Constant current discharge",
    "Rest",
    "Constant current charge",
    "Constant voltage charge",
    "Rest",
)


def steps_of(frame: pl.DataFrame) -> pl.DataFrame:
    """The steps table cellstore derives, reduced to the columns dQ/dV reads."""
    return (
        frame.with_row_index("row")
        .group_by("Step count", maintain_order=True)
        .agg(
            pl.col("row").first().cast(pl.Int64).alias("Start index"),
            pl.col("row").last().cast(pl.Int64).alias("End index"),
            pl.col("Current [A]").mean().alias("Mean current [A]"),
            (pl.col("Cycle from cycler").first() - 1).alias("Cycle count"),
        )
        .with_columns(
            pl.Series(
                "Step type", [STEP_TYPES[k % len(STEP_TYPES)] for k in range(frame["Step count"].max() + 1)]
            )
        )
    )


def peak_voltage(curve: dict[str, list[float]]) -> float:
    return curve["Voltage [V]"][int(np.argmax(curve["dQ/dV [A.h/V]"]))]


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pl.DataFrame]:
    frame = synthetic_cycles(2)
    path = tmp_path_factory.mktemp("dqdv") / "series.parquet"
    frame.write_parquet(path, row_group_size=4096)
    return path, frame


def test_peaks_sit_on_the_plateau_shifted_by_the_ir_drop(series: tuple[Path, pl.DataFrame]) -> None:
    path, frame = series
    body = ic.dqdv(path, steps_of(frame), cycle=1, voltage_step=0.005, smoothing=0.01)
    assert body["discharge_steps"] == [5] and body["charge_steps"] == [7]
    assert body["skipped_steps"] == [6, 8, 9]  # two rests and the CV hold
    assert peak_voltage(body["discharge"]) == pytest.approx(PLATEAU_V - RESISTANCE, abs=0.006)
    assert peak_voltage(body["charge"]) == pytest.approx(PLATEAU_V + RESISTANCE, abs=0.006)
    # Away from the plateau dQ/dV is the linear part of the OCV, and the peak stands well above it.
    for direction, shift in (("discharge", -RESISTANCE), ("charge", RESISTANCE)):
        curve = body[direction]
        v, y = np.array(curve["Voltage [V]"]), np.array(curve["dQ/dV [A.h/V]"])
        away = (np.abs(v - (3.4 + shift)) < 0.003) | (np.abs(v - (3.9 + shift)) < 0.003)
        assert y[away] == pytest.approx([true_dqdv(u - shift) for u in v[away]], rel=0.1)
        assert y.max() > 5 * y[away].mean()


def test_the_curve_holds_all_the_capacity_passed(series: tuple[Path, pl.DataFrame]) -> None:
    path, frame = series
    body = ic.dqdv(path, steps_of(frame), cycle=0, voltage_step=0.005, smoothing=0.0)
    for direction, step in (("discharge", 0), ("charge", 2)):
        column = "Discharge capacity [A.h]" if direction == "discharge" else "Charge capacity [A.h]"
        passed = frame.filter(pl.col("Step count") == step)[column].max()
        curve = body[direction]
        assert sum(curve["dQ/dV [A.h/V]"]) * 0.005 == pytest.approx(passed, rel=1e-6)
        # Q resampled on the grid grows with voltage on charge and shrinks on discharge.
        q = np.array(curve["Capacity [A.h]"])
        assert np.all(np.diff(q) >= -1e-9) if direction == "charge" else np.all(np.diff(q) <= 1e-9)
        assert curve["Voltage [V]"] == sorted(curve["Voltage [V]"])


def test_without_capacity_columns_current_is_integrated(
    series: tuple[Path, pl.DataFrame], tmp_path: Path
) -> None:
    path, frame = series
    bare = tmp_path / "bare.parquet"
    frame.drop("Discharge capacity [A.h]", "Charge capacity [A.h]").write_parquet(bare)
    from_columns = ic.dqdv(path, steps_of(frame), cycle=0)
    integrated = ic.dqdv(bare, steps_of(frame), cycle=0)
    for direction in ("charge", "discharge"):
        assert integrated[direction]["Voltage [V]"] == from_columns[direction]["Voltage [V]"]
        assert integrated[direction]["dQ/dV [A.h/V]"] == pytest.approx(
            from_columns[direction]["dQ/dV [A.h/V]"], abs=1e-6
        )


def test_one_step(series: tuple[Path, pl.DataFrame]) -> None:
    path, frame = series
    body = ic.dqdv(path, steps_of(frame), step=2)
    assert body["cycle"] is None and body["step"] == 2
    assert body["charge_steps"] == [2] and body["discharge"]["Voltage [V]"] == []
    assert peak_voltage(body["charge"]) == pytest.approx(PLATEAU_V + RESISTANCE, abs=0.006)
    rest = ic.dqdv(path, steps_of(frame), step=1)
    assert rest["skipped_steps"] == [1] and rest["charge"]["dQ/dV [A.h/V]"] == []


def test_unknown_cycle_or_step_and_bad_parameters(series: tuple[Path, pl.DataFrame]) -> None:
    path, frame = series
    with pytest.raises(ic.SelectionNotFound, match="Cycle 7"):
        ic.dqdv(path, steps_of(frame), cycle=7)
    with pytest.raises(ic.SelectionNotFound, match="Step 99"):
        ic.dqdv(path, steps_of(frame), step=99)
    with pytest.raises(ic.DqdvError, match="exactly one"):
        ic.dqdv(path, steps_of(frame), cycle=0, step=0)
    with pytest.raises(ic.DqdvError, match="voltage_step"):
        ic.dqdv(path, steps_of(frame), cycle=0, voltage_step=1e-9)


def test_direction_comes_from_the_step_type_then_the_current() -> None:
    assert ic.direction_of("Constant current discharge", None) == "discharge"
    assert ic.direction_of("Constant power charge", None) == "charge"
    assert ic.direction_of("Constant voltage charge", -1.0) is None
    assert ic.direction_of("Rest", 0.0) is None
    assert ic.direction_of("Unknown step type", 0.3) == "discharge"
    assert ic.direction_of("Unknown step type", -0.3) == "charge"
    assert ic.direction_of("Unknown step type", None) is None


def test_voltage_running_backwards_and_flat_stretches_are_binned_not_divided() -> None:
    # Voltage that dithers and holds still: each row pair's capacity lands in one bin, nothing explodes.
    v = np.array([3.50, 3.51, 3.505, 3.52, 3.52, 3.52, 3.53])
    q = np.full(v.size, 0.01)
    curve = ic.incremental_capacity(v, q, "charge", voltage_step=0.01, smoothing=0.0)
    assert curve["Voltage [V]"] == pytest.approx([3.505, 3.515, 3.525, 3.535])
    assert sum(curve["dQ/dV [A.h/V]"]) * 0.01 == pytest.approx(q.sum())
    assert all(np.isfinite(curve["dQ/dV [A.h/V]"]))


def test_gaussian_smoothing_keeps_levels_and_area() -> None:
    flat = np.full(50, 2.0)
    assert ic.gaussian_smooth(flat, 3.0) == pytest.approx(flat)
    spike = np.zeros(101)
    spike[50] = 1.0
    smoothed = ic.gaussian_smooth(spike, 2.0)
    assert smoothed.sum() == pytest.approx(1.0)
    assert int(np.argmax(smoothed)) == 50
    assert ic.gaussian_smooth(np.array([1.0, 3.0]), 5.0) == pytest.approx([2.0, 2.0], rel=0.1)
