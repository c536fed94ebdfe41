"""Unit scaling, in one place: the rated capacity of a specification in ampere-hours."""

from __future__ import annotations

import math
import re
from typing import Any

_AMP_HOUR_SCALE = {"": 1.0, "m": 1e-3, "u": 1e-6, "µ": 1e-6, "k": 1e3}
# A.h, Ah, A*h, A h, A·h; with an optional SI prefix (mA.h, uAh, ...).
_AMP_HOUR = re.compile(r"^(?P<prefix>[muµk]?)A\s*[.*·]?\s*h$")


def capacity_in_amp_hours(quantity: Any) -> float | None:
    """``{"value": 5, "unit": "A.h"}`` as 5.0; None when absent, not positive or in another unit."""
    if not isinstance(quantity, dict):
        return None
    value, unit = quantity.get("value"), quantity.get("unit")
    if isinstance(value, bool) or not isinstance(value, int | float) or not isinstance(unit, str):
        return None
    match = _AMP_HOUR.match(unit.strip())
    if match is None:
        return None
    amp_hours = float(value) * _AMP_HOUR_SCALE[match.group("prefix")]
    return amp_hours if math.isfinite(amp_hours) and amp_hours > 0 else None
