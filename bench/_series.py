"""Realistic synthetic cycling series (API contract §6.1 columns), of any length, written in chunks.

One cycle at 1 Hz on a 5 A.h cell: CC discharge at 1C (with a 0 A transition sample
first, as cyclers log it), rest, CC charge at C/2, CV hold at 4.2 V with an
exponentially decaying current, rest. Every measured column carries noise; the
capacity and energy counters are cumulative per step (reset to 0 at each step start);
``Cycle from cycler``/``Step from cycler`` are the cycler's own numbering. Cycle ``k``
depends only on ``(seed, k)``, so any row range can be generated on its own: that is
how the benchmark makes the 10,000 rows that extend a 10M-row series.

Used by ``bench/processing.py`` and by the equality tests in ``tests/processing``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

RATED_CAPACITY_AH = 5.0
#: Seconds of each step of a cycle at ``scale=1``; the CC steps shorten with fade.
DISCHARGE_S = 3600
REST_S = 600
CC_CHARGE_S = 6000
CV_S = 1800


def _cycle_lengths(k: int, scale: float) -> list[int]:
    fade = 1.0 - 0.0002 * k
    lengths = [DISCHARGE_S * fade, REST_S, CC_CHARGE_S * fade, CV_S, REST_S]
    return [max(2, round(n * scale)) for n in lengths]


def cycle_rows(k: int, scale: float = 1.0) -> int:
    """Rows of cycle ``k``."""
    return sum(_cycle_lengths(k, scale))


def cycle_frame(k: int, *, scale: float = 1.0, seed: int = 0, first_step: int = 0) -> pl.DataFrame:
    """Cycle ``k`` (0-based) as a frame; ``first_step`` is the ``Step count`` of its first step."""
    rng = np.random.default_rng([seed, k])
    n_dis, n_rest1, n_cc, n_cv, n_rest2 = _cycle_lengths(k, scale)
    c_dis, c_chg = RATED_CAPACITY_AH, -RATED_CAPACITY_AH / 2

    def ramp(a: float, b: float, n: int) -> np.ndarray:
        return np.linspace(a, b, n)

    currents = [
        np.concatenate([[0.0], np.full(n_dis - 1, c_dis)]) + rng.normal(0, 2e-4, n_dis),
        rng.normal(0, 2e-5, n_rest1),
        np.full(n_cc, c_chg) + rng.normal(0, 2e-4, n_cc),
        c_chg * np.exp(-np.arange(n_cv) / (n_cv / 2.3)) + rng.normal(0, 2e-4, n_cv),
        rng.normal(0, 2e-5, n_rest2),
    ]
    voltages = [
        4.1 - 1.1 * np.linspace(0, 1, n_dis) ** 3 - 0.1 * np.linspace(0, 1, n_dis),
        3.0 + 0.3 * (1 - np.exp(-np.arange(n_rest1) / 60)),
        3.4 + 0.8 * np.sqrt(np.linspace(0, 1, n_cc)),
        np.full(n_cv, 4.2),
        4.2 - 0.1 * (1 - np.exp(-np.arange(n_rest2) / 60)),
    ]
    voltages = [v + rng.normal(0, 3e-4, len(v)) for v in voltages]
    parts = []
    for j, (current, voltage) in enumerate(zip(currents, voltages, strict=True)):
        n = len(current)
        # Counters integrate from the step's first sample, so they start at exactly 0.
        step_dq = np.concatenate([[0.0], np.maximum(current[1:], 0) / 3600])
        step_cq = np.concatenate([[0.0], np.maximum(-current[1:], 0) / 3600])
        parts.append(
            {
                "Step count": np.full(n, first_step + j, dtype=np.int64),
                "Cycle count": np.full(n, k, dtype=np.int64),
                "Step from cycler": np.full(n, j + 1, dtype=np.int64),
                "Cycle from cycler": np.full(n, k + 1, dtype=np.int64),
                "Current [A]": current,
                "Voltage [V]": voltage,
                "Discharge capacity [A.h]": np.cumsum(step_dq),
                "Charge capacity [A.h]": np.cumsum(step_cq),
                "Discharge energy [W.h]": np.cumsum(step_dq * voltage),
                "Charge energy [W.h]": np.cumsum(step_cq * voltage),
            }
        )
    columns = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    rows = len(columns["Current [A]"])
    columns["Temperature [degC]"] = (
        25.0 + 2.0 * np.abs(columns["Current [A]"]) / c_dis + rng.normal(0, 0.05, rows)
    )
    frame = pl.DataFrame(columns)
    order = [
        "Time [s]",
        "Voltage [V]",
        "Current [A]",
        "Step count",
        "Cycle count",
        "Step from cycler",
        "Cycle from cycler",
        "Discharge capacity [A.h]",
        "Charge capacity [A.h]",
        "Discharge energy [W.h]",
        "Charge energy [W.h]",
        "Temperature [degC]",
    ]
    return frame.with_columns(pl.lit(0.0).alias("Time [s]")).select(order)


def cycling_chunks(
    rows: int, *, start: int = 0, scale: float = 1.0, seed: int = 0, chunk_rows: int = 1 << 20
):
    """Yield frames covering rows ``[start, start + rows)`` of the infinite series, in order.

    ``Time [s]`` is the row number (1 Hz from 0); ``Step count`` counts steps from the
    series' start (five per cycle), so a range continues the rows before it exactly.
    """
    end = start + rows
    k, row, pending, pending_rows = 0, 0, [], 0
    while row < end:
        n = cycle_rows(k, scale)
        if row + n > start:
            frame = cycle_frame(k, scale=scale, seed=seed, first_step=5 * k)
            lo, hi = max(start - row, 0), min(end - row, n)
            frame = frame.slice(lo, hi - lo).with_columns(
                (pl.int_range(row + lo, row + hi, dtype=pl.Int64)).cast(pl.Float64).alias("Time [s]")
            )
            pending.append(frame)
            pending_rows += frame.height
            if pending_rows >= chunk_rows:
                yield pl.concat(pending)
                pending, pending_rows = [], 0
        row += n
        k += 1
    if pending:
        yield pl.concat(pending)


def cycling_series(rows: int, *, start: int = 0, scale: float = 1.0, seed: int = 0) -> pl.DataFrame:
    """Rows ``[start, start + rows)`` of the series, in one frame (small sizes: tests)."""
    return pl.concat(list(cycling_chunks(rows, start=start, scale=scale, seed=seed)))


def write_cycling_parquet(
    path: Path, rows: int, *, start: int = 0, scale: float = 1.0, seed: int = 0
) -> None:
    """Write the rows as a client would upload them (zstd, polars' default row groups)."""
    import pyarrow.parquet as pq

    writer = None
    try:
        for chunk in cycling_chunks(rows, start=start, scale=scale, seed=seed):
            table = chunk.to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, compression="zstd")
            writer.write_table(table, row_group_size=512 * 512)
    finally:
        if writer is not None:
            writer.close()
