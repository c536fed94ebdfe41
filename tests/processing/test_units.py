"""Rated capacity from a specification's Quantity, in ampere-hours."""

from __future__ import annotations

import pytest

from cellstore.processing.units import capacity_in_amp_hours


@pytest.mark.parametrize(
    ("unit", "expected"),
    [("A.h", 5.0), ("Ah", 5.0), ("A*h", 5.0), ("A h", 5.0), ("A·h", 5.0), ("mA.h", 0.005), ("mAh", 0.005)],
)
def test_spellings_of_amp_hours_scale_to_amp_hours(unit: str, expected: float) -> None:
    assert capacity_in_amp_hours({"value": 5, "unit": unit}) == pytest.approx(expected)


def test_micro_amp_hours() -> None:
    assert capacity_in_amp_hours({"value": 2000, "unit": "uA.h"}) == pytest.approx(0.002)


@pytest.mark.parametrize(
    "quantity",
    [
        None,
        5,
        {"value": 5},
        {"unit": "A.h"},
        {"value": "5", "unit": "A.h"},
        {"value": True, "unit": "A.h"},
        {"value": 5, "unit": "W.h"},
        {"value": 0, "unit": "A.h"},
        {"value": -1, "unit": "A.h"},
        {"value": float("nan"), "unit": "A.h"},
    ],
)
def test_anything_else_gives_no_capacity(quantity: object) -> None:
    assert capacity_in_amp_hours(quantity) is None
