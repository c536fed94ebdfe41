"""validate_series: every rule of contract §6.1, and the wording of each error."""

from __future__ import annotations

import math
import re

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cellstore.processing.errors import SeriesError
from cellstore.processing.validation import Boundary, plainly_valid, validate_series


def series(overrides: dict[str, list | None] | None = None) -> pl.DataFrame:
    """A valid five-row series; ``overrides`` replace or add columns (None drops one)."""
    columns: dict[str, list] = {
        "Step count": [0, 0, 1, 1, 2],
        "Time [s]": [0.0, 1.0, 2.0, 3.0, 4.0],
        "Voltage [V]": [4.0, 3.9, 3.8, 3.8, 3.7],
        "Current [A]": [0.0, 0.0, 1.0, 1.0, 0.0],
    }
    for name, values in (overrides or {}).items():
        if values is None:
            columns.pop(name, None)
        else:
            columns[name] = values
    return pl.DataFrame(columns, strict=False)


def rejects(df: pl.DataFrame, message: str) -> SeriesError:
    with pytest.raises(SeriesError, match=message) as caught:
        validate_series(df.lazy())
    return caught.value


def test_valid_series_passes_unchanged_and_lazily() -> None:
    df = series()
    result = validate_series(df.lazy())
    assert isinstance(result, pl.LazyFrame)
    assert_frame_equal(result.collect(), df)


def test_casts_to_canonical_dtypes_and_keeps_other_columns() -> None:
    df = pl.DataFrame(
        {
            "Step count": pl.Series([0.0, 0.0, 1.0], dtype=pl.Float64),
            "Time [s]": pl.Series([0, 1, 2], dtype=pl.Int32),
            "Voltage [V]": pl.Series([4.0, 3.9, 3.8], dtype=pl.Float32),
            "Cycle from cycler": pl.Series([1, 1, 2], dtype=pl.UInt16),
            "Comment": ["a", "b", None],
        }
    )
    expected = pl.DataFrame(
        {
            "Step count": pl.Series([0, 0, 1], dtype=pl.Int64),
            "Time [s]": pl.Series([0.0, 1.0, 2.0], dtype=pl.Float64),
            "Voltage [V]": pl.Series([4.0, 3.9, 3.8], dtype=pl.Float32).cast(pl.Float64),
            "Cycle from cycler": pl.Series([1, 1, 2], dtype=pl.Int64),
            "Comment": ["a", "b", None],
        }
    )
    original = df.clone()
    assert_frame_equal(validate_series(df.lazy()).collect(), expected)
    assert_frame_equal(df, original)  # the input frame is not changed


def test_time_voltage_and_current_are_optional() -> None:
    df = series({"Time [s]": None, "Voltage [V]": None, "Current [A]": None})
    assert validate_series(df.lazy()).collect().columns == ["Step count"]


def test_step_count_is_required() -> None:
    error = rejects(series({"Step count": None}), r"^Missing required column 'Step count'")
    assert error.column == "Step count"


def test_zero_rows_are_refused() -> None:
    rejects(series().head(0), r"^The time series has no rows\.$")


@pytest.mark.parametrize("values", [["0", "0", "1", "1", "2"], [True, False, True, True, True]])
def test_step_count_must_be_numeric(values: list) -> None:
    rejects(
        series({"Step count": values}),
        r"^Step count must be an integer column, but it holds (String|Boolean)",
    )


def test_step_count_float_must_hold_whole_numbers() -> None:
    error = rejects(
        series({"Step count": [0.0, 0.0, 1.0, 1.5, 2.0]}),
        re.escape("Step count must hold whole numbers, but row 3 is 1.5 (1 row in all)."),
    )
    assert error.rows == (3,)


@pytest.mark.parametrize("missing", [None, math.nan])
def test_step_count_may_not_be_null(missing: float | None) -> None:
    error = rejects(
        series({"Step count": [0.0, missing, 1.0, missing, 2.0]}),
        re.escape("Step count is null, NaN or infinite at rows 1, 3 (2 rows)."),
    )
    assert error.rows == (1, 3)
    assert error.column == "Step count"


def test_step_count_must_start_at_zero() -> None:
    rejects(series({"Step count": [1, 1, 2, 2, 3]}), re.escape("Step count must start at 0, but row 0 is 1."))


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([0, 0, 1, 3, 3], "goes from 1 to 3 at row 3"),
        ([0, 1, 2, 1, 2], "goes from 2 to 1 at row 3"),
    ],
)
def test_step_count_rises_by_zero_or_one(steps: list[int], expected: str) -> None:
    error = rejects(
        series({"Step count": steps}), "Step count must rise by 0 or 1 between rows, but " + expected
    )
    assert error.rows == (3,)


def test_time_must_not_decrease() -> None:
    error = rejects(
        series({"Time [s]": [0.0, 1.0, 12.0, 11.5, 13.0]}),
        re.escape("Time [s] decreases at row 3 (from 12.0 to 11.5)"),
    )
    assert error.column == "Time [s]"
    assert error.rows == (3,)


def test_time_may_jitter_within_the_tolerance() -> None:
    validate_series(series({"Time [s]": [0.0, 1.0, 2.0, 2.0 - 5e-13, 3.0]}).lazy()).collect()
    rejects(series({"Time [s]": [0.0, 1.0, 2.0, 2.0 - 1e-9, 3.0]}), "Time \\[s\\] decreases at row 3")


def test_time_may_be_null_on_eis_rows_only() -> None:
    eis = series(
        {"Time [s]": [0.0, None, None, 3.0, 4.0], "Frequency [Hz]": [None, 1000.0, 100.0, None, None]}
    )
    validate_series(eis.lazy()).collect()
    rejects(
        series({"Time [s]": [0.0, None, 2.0, 3.0, 4.0], "Frequency [Hz]": [None, None, None, None, None]}),
        re.escape("Time [s] is null, NaN or infinite at row 1 (only EIS rows"),
    )
    rejects(series({"Time [s]": [0.0, None, 2.0, 3.0, 4.0]}), "there is no such column")


def test_time_must_not_decrease_across_eis_rows() -> None:
    df = series({"Time [s]": [0.0, 5.0, None, 4.0, 6.0], "Frequency [Hz]": [None, None, 10.0, None, None]})
    rejects(df, re.escape("Time [s] decreases at row 3 (from 5.0 to 4.0)"))


@pytest.mark.parametrize("column", ["Voltage [V]", "Current [A]", "Time [s]"])
@pytest.mark.parametrize("bad", [None, math.nan, math.inf])
def test_measured_values_may_not_be_missing(column: str, bad: float | None) -> None:
    values = series()[column].to_list()
    values[2] = bad
    error = rejects(series({column: values}), f"^{re.escape(column)} is null, NaN or infinite at row 2")
    assert error.rows == (2,)


def test_error_names_the_first_rows_and_how_many_more() -> None:
    df = pl.DataFrame(
        {"Step count": [0] * 8, "Voltage [V]": [None] * 7 + [3.0]},
        schema_overrides={"Voltage [V]": pl.Float64},
    )
    error = rejects(
        df, re.escape("Voltage [V] is null, NaN or infinite at rows 0, 1, 2, 3, 4 and 2 more (7 rows).")
    )
    assert error.rows == (0, 1, 2, 3, 4)


def test_measured_columns_must_be_numeric() -> None:
    rejects(
        series({"Voltage [V]": ["4.0"] * 5}), r"^Voltage \[V\] must be a numeric column, but it holds String"
    )
    rejects(series({"Time [s]": ["0"] * 5}), r"^Time \[s\] must be a numeric column")


def test_optional_count_columns_must_hold_whole_numbers_but_may_be_null() -> None:
    ok = series({"Cycle from cycler": [1.0, 1.0, None, 2.0, 2.0]})
    assert validate_series(ok.lazy()).collect()["Cycle from cycler"].dtype == pl.Int64
    rejects(
        series({"Cycle from cycler": [1.0, 1.0, 1.5, 2.0, 2.0]}), "^Cycle from cycler must hold whole numbers"
    )


def test_first_broken_rule_in_priority_order_is_reported() -> None:
    # Both a null step count and a time going backwards: the null is the root cause.
    df = series({"Step count": [0.0, None, 1.0, 1.0, 2.0], "Time [s]": [0.0, 1.0, 0.5, 3.0, 4.0]})
    rejects(df, "^Step count is null")


def test_series_error_is_a_value_error() -> None:
    assert issubclass(SeriesError, ValueError)


# -- the fast test that clears most batches before the exact rules ---------------------------------

PLAIN = {
    "Step count": [3, 3, 4, 4, 5],
    "Time [s]": [10.0, 11.0, 12.0, 12.0, 13.0],
    "Voltage [V]": [4.0, 4.0, 3.9, 3.8, 3.7],
    "Current [A]": [1.0, 1.0, 0.0, 0.0, -1.0],
}
AFTER_STEP_3 = Boundary(step_count=3, time=9.5)


@pytest.mark.parametrize(
    ("changes", "boundary"),
    [
        ({}, AFTER_STEP_3),  # continues the last step
        ({"Step count": [4, 4, 5, 5, 6]}, AFTER_STEP_3),  # starts the next one
        ({"Step count": [0, 0, 1, 1, 2], "Time [s]": [0.0, 1.0, 2.0, 3.0, 4.0]}, None),  # a series' start
        ({"Time [s]": [9.5, 11.0, 12.0, 12.0, 13.0]}, AFTER_STEP_3),  # repeats the last time
    ],
)
def test_plainly_valid_clears_batches_that_keep_every_rule(changes: dict, boundary: Boundary | None) -> None:
    assert plainly_valid(pl.DataFrame({**PLAIN, **changes}), boundary)


@pytest.mark.parametrize(
    "changes",
    [
        {"Step count": [5, 5, 6, 6, 7]},  # skips step 4
        {"Step count": [2, 3, 3, 4, 4]},  # goes back before the last step
        {"Step count": [3, 3, 5, 5, 6]},  # jumps by 2 inside the batch, though sorted
        {"Step count": [3, 4, 3, 4, 5]},  # decreases
        {"Step count": [3.0, 3.0, 4.0, 4.0, 5.0]},  # float counts: the exact rules decide
        {"Time [s]": [9.0, 11.0, 12.0, 12.0, 13.0]},  # before the series' last time
        {"Time [s]": [10.0, 11.0, 10.5, 12.0, 13.0]},  # goes backwards
        {"Time [s]": [10.0, None, 12.0, 12.0, 13.0]},  # null time (only EIS rows may)
        {"Voltage [V]": [4.0, float("nan"), 3.9, 3.8, 3.7]},
        {"Current [A]": [1.0, float("inf"), 0.0, 0.0, -1.0]},
    ],
)
def test_plainly_valid_never_clears_a_batch_that_breaks_a_rule(changes: dict) -> None:
    batch = pl.DataFrame({**PLAIN, **changes})
    assert not plainly_valid(batch, AFTER_STEP_3)
