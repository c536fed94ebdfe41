"""normalise() on tiny synthetic tables: time, counts, per-step capacity, metadata."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from polars.testing import assert_series_equal

from cellstore.formats.base import ColumnMap, FormatError, RawSeries
from cellstore.formats.normalise import (
    CAPACITY_FROM_CYCLER,
    apply_column_maps,
    duration_seconds,
    in_zone,
    normalise,
    unique_names,
)
from cellstore.processing import columns as c
from cellstore.processing.validation import validate_series


def raw(family: str = "test", **columns) -> RawSeries:
    return RawSeries(frame=pl.DataFrame(columns), family=family)


def ints(values) -> pl.Series:
    return pl.Series(values, dtype=pl.Int64)


def test_relative_time_starts_at_zero_and_moves_start_time():
    series = raw(**{c.TIME: [10.0, 11.0, 12.0], c.VOLTAGE: [3.0] * 3, c.CURRENT: [0.0] * 3})
    series.start_time = datetime(2024, 1, 1, 12, 0, 0)
    out = normalise(series)
    assert out.frame[c.TIME].to_list() == [0.0, 1.0, 2.0]
    assert out.start_time == datetime(2024, 1, 1, 12, 0, 10, tzinfo=UTC)
    validate_series(out.frame.lazy()).collect()


def test_absolute_time_gives_seconds_and_aware_utc_start():
    cet = timezone(timedelta(hours=1))
    times = [datetime(2024, 3, 1, 10, 0, 0, tzinfo=cet) + timedelta(seconds=s) for s in (0, 0.5, 2)]
    out = normalise(raw(**{c.TIME: times, c.VOLTAGE: [3.0] * 3, c.CURRENT: [1.0] * 3}))
    assert out.frame[c.TIME].dtype == pl.Float64
    assert out.frame[c.TIME].to_list() == [0.0, 0.5, 2.0]
    assert out.start_time == datetime(2024, 3, 1, 9, 0, 0, tzinfo=UTC)


def test_duration_text_is_parsed():
    texts = pl.Series(["00:00:01", "1d 02:00:00.5", "1.00:00:02", "12.5", "bad"])
    seconds = pl.select(duration_seconds(pl.lit(texts))).to_series()
    assert seconds.to_list() == [1.0, 93600.5, 86402.0, 12.5, None]


def test_time_going_backwards_is_a_format_error():
    series = raw(**{c.TIME: [0.0, 2.0, 1.0], c.VOLTAGE: [3.0] * 3, c.CURRENT: [0.0] * 3})
    with pytest.raises(FormatError, match="backwards at data row 2"):
        normalise(series)


def test_empty_table_is_a_format_error():
    with pytest.raises(FormatError, match="no data rows"):
        normalise(raw(**{c.TIME: [], c.VOLTAGE: []}))


def test_step_count_follows_cycler_step_and_cycle_changes():
    series = raw(
        **{
            c.TIME: [0.0, 1, 2, 3, 4, 5, 6],
            c.VOLTAGE: [3.0] * 7,
            c.CURRENT: [1.0, 1, 0, -1, -1, 1, 1],
            c.STEP_FROM_CYCLER: [1, 1, 2, 3, 3, 3, 3],
            # the same step number in a new cycle is a new step
            c.CYCLE_FROM_CYCLER: [1, 1, 1, 1, 1, 2, 2],
        }
    )
    out = normalise(series).frame
    assert_series_equal(out[c.STEP_COUNT], ints([0, 0, 1, 2, 2, 3, 3]), check_names=False)
    assert_series_equal(out[c.CYCLE_COUNT], ints([0, 0, 0, 0, 0, 1, 1]), check_names=False)
    validate_series(out.lazy()).collect()


def test_missing_step_numbers_continue_the_step_and_leading_nulls_are_their_own_step():
    series = raw(
        **{
            c.TIME: [0.0, 1, 2, 3, 4],
            c.VOLTAGE: [3.0] * 5,
            c.CURRENT: [0.0] * 5,
            c.STEP_FROM_CYCLER: [None, 1, None, 2, 2],
        }
    )
    out = normalise(series).frame
    assert out[c.STEP_COUNT].to_list() == [0, 1, 1, 2, 2]


def test_without_step_numbers_steps_follow_the_current_direction():
    series = raw(**{c.TIME: [0.0, 1, 2, 3, 4], c.VOLTAGE: [3.0] * 5, c.CURRENT: [0.0, 1, 1, -1, 0]})
    assert normalise(series).frame[c.STEP_COUNT].to_list() == [0, 1, 1, 2, 3]


def test_cycle_count_is_constant_within_a_step():
    series = raw(
        **{
            c.TIME: [0.0, 1, 2, 3],
            c.VOLTAGE: [3.0] * 4,
            c.CURRENT: [1.0] * 4,
            c.STEP_COUNT: [0, 0, 0, 1],
            c.CYCLE_FROM_CYCLER: [0, 0, 1, 1],
        }
    )
    assert normalise(series).frame[c.CYCLE_COUNT].to_list() == [0, 0, 0, 1]


def test_capacities_counted_from_test_start_are_reset_per_step():
    series = raw(
        **{
            c.TIME: [0.0, 1, 2, 3, 4],
            c.VOLTAGE: [3.0] * 5,
            c.CURRENT: [1.0, 1, -1, -1, -1],
            c.STEP_FROM_CYCLER: [1, 1, 2, 2, 2],
            c.DISCHARGE_CAPACITY: [0.1, 0.2, 0.2, 0.2, 0.2],
            c.CHARGE_CAPACITY: [0.0, 0.0, 0.05, 0.1, 0.15],
            c.DISCHARGE_ENERGY: [-0.3, -0.6, -0.6, -0.6, -0.6],  # some instruments count negative
        }
    )
    out = normalise(series).frame
    assert out[c.DISCHARGE_CAPACITY].to_list() == pytest.approx([0, 0.1, 0, 0, 0])
    assert out[c.CHARGE_CAPACITY].to_list() == pytest.approx([0, 0, 0, 0.05, 0.1])
    assert out[c.DISCHARGE_ENERGY].to_list() == pytest.approx([0, 0.3, 0, 0, 0])


def test_a_single_capacity_counter_is_split_by_current_direction():
    series = raw(
        **{
            c.TIME: [0.0, 1, 2, 3, 4],
            c.VOLTAGE: [3.0] * 5,
            c.CURRENT: [1.0, 1, -1, -1, -1],
            c.STEP_FROM_CYCLER: [1, 1, 2, 2, 2],
            CAPACITY_FROM_CYCLER: [0.1, 0.2, 0.01, 0.02, 0.03],
        }
    )
    out = normalise(series).frame
    assert out[c.DISCHARGE_CAPACITY].to_list() == pytest.approx([0, 0.1, 0, 0, 0])
    assert out[c.CHARGE_CAPACITY].to_list() == pytest.approx([0, 0, 0, 0.01, 0.02])
    assert CAPACITY_FROM_CYCLER in out.columns


def test_eis_rows_may_have_null_time_and_unknown_columns_are_kept():
    series = raw(
        **{
            c.TIME: [None, 5.0, 6.0],
            c.VOLTAGE: [3.0] * 3,
            c.CURRENT: [0.0] * 3,
            c.FREQUENCY: [1000.0, None, None],
            "Aux T1 [degC]": [20.0, 21.0, 22.0],
        }
    )
    out = normalise(series)
    assert out.frame[c.TIME].to_list() == [None, 0.0, 1.0]
    assert out.frame["Aux T1 [degC]"].to_list() == [20.0, 21.0, 22.0]
    assert out.frame.height == 3
    validate_series(out.frame.lazy()).collect()


def test_metadata_is_carried_and_input_is_not_changed():
    series = raw(**{c.TIME: [5.0, 6.0], c.VOLTAGE: [3.0, 3.1], c.CURRENT: [0.0, 0.0]})
    series.test_setup = {"channel_number": "7"}
    series.protocol = {"name": "cycle.sdu"}
    before = series.frame.clone()
    out = normalise(series)
    assert out.test_setup == {"format": "test", "channel_number": "7"}
    assert out.protocol == {"name": "cycle.sdu"}
    assert out.family == "test"
    assert series.frame.equals(before)


def test_apply_column_maps_scales_negates_and_keeps_the_rest():
    frame = pl.DataFrame({" Current (mA) ": ["1.5", "-2"], "Volts": [3.0, 3.1], "Current [A]": [9.0, 9.0]})
    maps = [
        ColumnMap("current(ma)", c.CURRENT, scale=1e-3, negate=True),
        ColumnMap("Voltage", c.VOLTAGE),
        ColumnMap("Volts", c.VOLTAGE),
    ]
    out = apply_column_maps(frame, maps)
    assert out[c.CURRENT].to_list() == pytest.approx([-0.0015, 0.002])
    assert out[c.VOLTAGE].to_list() == [3.0, 3.1]
    assert out["Current [A] (original)"].to_list() == [9.0, 9.0]


def test_unique_names():
    assert unique_names(["a", "", "a", " a ", "b"]) == ["a", "column_1", "a (2)", "a (3)", "b"]


BERLIN = ZoneInfo("Europe/Berlin")
WALL = [datetime(2024, 1, 15, 9, 0, 0), datetime(2024, 1, 15, 9, 0, 1)]


@pytest.mark.parametrize(
    ("time", "start_time", "local"),
    [
        (pl.Series(WALL), None, True),  # a clock column without a zone
        (pl.Series(WALL).dt.replace_time_zone("UTC"), None, False),  # ... with one
        (pl.Series([5.0, 6.0]), datetime(2024, 1, 15, 8, 59, 55), True),  # relative, naive start
        (pl.Series([5.0, 6.0]), datetime(2024, 1, 15, 8, 59, 55, tzinfo=UTC), False),
    ],
    ids=["naive clock", "aware clock", "naive start", "aware start"],
)
def test_a_start_read_from_a_clock_without_zone_is_moved_into_the_instrument_zone(
    time: pl.Series, start_time: datetime | None, local: bool
) -> None:
    series = raw(**{c.TIME: time, c.VOLTAGE: [3.0, 3.0], c.CURRENT: [0.0, 0.0]})
    series.start_time = start_time
    out = normalise(series)
    assert out.local_clock is local
    assert out.start_time == datetime(2024, 1, 15, 9, 0, 0, tzinfo=UTC)  # taken as UTC by default
    moved = in_zone(out, BERLIN)
    if local:  # 09:00 in Berlin in January (CET, +1) is 08:00 UTC
        assert moved.start_time == datetime(2024, 1, 15, 8, 0, 0, tzinfo=UTC)
        assert moved.test_setup["timezone"] == "Europe/Berlin"
    else:
        assert moved == out
    assert moved.frame.equals(out.frame)
