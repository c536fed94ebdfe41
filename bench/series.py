"""``/series`` on a 50M-row series: overview build time and size, and query latency against 300 ms.

    .venv/bin/python bench/series.py                  # 50M rows, 30 queries of each kind
    .venv/bin/python bench/series.py --rows 5M        # a quicker run

Writes a 1 Hz cycling series (CC discharge, rest, CC charge, CV hold, rest; five columns,
noise on every measured one) in row groups as cellstore stores them, into a temporary
directory, a chunk at a time (peak memory stays near one chunk plus the overview). Then it
builds the overview (:func:`cellstore.processing.overview.build_overview`, as processing
does), stores it, reads it back as a request would on a cold cache, and times the service
function behind ``GET /cell_measurements/{id}/series`` (``analysis.series_window``: window
lookup, overview merge, raw row-group reads, JSON-ready columns; no HTTP or database):

* ``full``: the whole series, ``max_points=2000``;
* ``1%``: a random window of 1% of the rows, by time (``start``/``end``);
* ``0.01%``: a random window of 0.01% of the rows, by time.

Each query asks for two y columns (voltage and current). Prints the median and p95 per kind
with PASS/FAIL against 300 ms. Everything generated is deleted on exit.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from cellstore.measurements.analysis import SeriesQuery, series_window  # noqa: E402
from cellstore.processing import overview as ov  # noqa: E402
from cellstore.processing.parquet import ROW_GROUP_SIZE  # noqa: E402

TARGET_MS = 300.0
CHUNK = 1 << 20
#: Seconds of each step of a cycle: CC discharge, rest, CC charge, CV hold, rest.
STEPS = (3600, 600, 6000, 1800, 600)


def rows_arg(text: str) -> int:
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1].lower(), 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def chunk(start: int, stop: int, rng: np.random.Generator) -> pa.Table:
    row = np.arange(start, stop, dtype=np.int64)
    period = sum(STEPS)
    in_cycle = row % period
    bounds = np.cumsum(STEPS)
    kind = np.searchsorted(bounds, in_cycle, side="right")
    step_start = np.concatenate(([0], bounds[:-1]))[kind]
    frac = (in_cycle - step_start) / np.array(STEPS)[kind]
    current = np.choose(kind, [5.0, 0.0, -2.5, -2.5 * np.exp(-2.3 * frac), 0.0]) + rng.normal(
        0, 2e-4, row.size
    )
    voltage = np.choose(
        kind,
        [
            4.1 - 1.1 * frac**3 - 0.1 * frac,
            3.0 + 0.3 * (1 - np.exp(-frac * 10)),
            3.4 + 0.8 * np.sqrt(frac),
            np.full(row.size, 4.2),
            4.2 - 0.1 * (1 - np.exp(-frac * 10)),
        ],
    ) + rng.normal(0, 5e-4, row.size)
    return pa.table(
        {
            "Time [s]": row.astype(np.float64),
            "Voltage [V]": voltage,
            "Current [A]": current,
            "Temperature [degC]": 25 + 3 * np.abs(current) / 5 + rng.normal(0, 0.05, row.size),
            "Step count": (row // period) * len(STEPS) + kind,
        }
    )


def write_series(path: Path, rows: int) -> None:
    rng = np.random.default_rng(0)
    writer = None
    try:
        for start in range(0, rows, CHUNK):
            table = chunk(start, min(start + CHUNK, rows), rng)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, compression="zstd")
            writer.write_table(table, row_group_size=ROW_GROUP_SIZE)
    finally:
        if writer is not None:
            writer.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=rows_arg, default=50_000_000, help="series rows (e.g. 50M)")
    parser.add_argument("--repeat", type=int, default=30, help="queries of each kind")
    args = parser.parse_args()
    rows = args.rows
    tmp = Path(tempfile.mkdtemp(prefix="cellstore-bench-series-"))
    try:
        series = tmp / "time_series.parquet"
        began = time.perf_counter()
        write_series(series, rows)
        print(
            f"series: {rows:,} rows, {series.stat().st_size / 1e6:,.0f} MB, written in "
            f"{time.perf_counter() - began:.1f} s"
        )

        began = time.perf_counter()
        built = ov.build_overview(series)
        build_s = time.perf_counter() - began
        stored = tmp / "overview.parquet"
        ov.write_overview(built, stored)
        levels = ", ".join(f"2^{k}: {f.height:,}" for k, f in sorted(built.levels.items()))
        print(
            f"overview build: {build_s:.1f} s; stored {stored.stat().st_size / 1e6:.1f} MB "
            f"({built.nbytes() / 1e6:.1f} MB in memory); buckets per level: {levels}"
        )
        began = time.perf_counter()
        overview = ov.read_overview(stored)
        assert overview is not None
        print(
            f"overview load (cold cache, once per process and version): "
            f"{(time.perf_counter() - began) * 1000:.0f} ms"
        )

        seconds = rows  # 1 Hz from 0
        rnd = random.Random(1)

        def window(fraction: float) -> SeriesQuery:
            width = seconds * fraction
            start = rnd.uniform(0, seconds - width)
            return SeriesQuery("Time [s]", ["Voltage [V]", "Current [A]"], 2000, start, start + width)

        kinds = {
            "full, max_points=2000": lambda: SeriesQuery("Time [s]", ["Voltage [V]", "Current [A]"], 2000),
            "1% window": lambda: window(0.01),
            "0.01% window": lambda: window(0.0001),
        }
        print(f"\n{'query':<24}{'median ms':>11}{'p95 ms':>9}{'points':>8}  source    result")
        failed = False
        for name, make in kinds.items():
            times, answer = [], {}
            for _ in range(args.repeat):
                query = make()
                began = time.perf_counter()
                answer = series_window(overview, series, query)
                times.append((time.perf_counter() - began) * 1000)
            median, p95 = statistics.median(times), percentile(times, 0.95)
            ok = p95 < TARGET_MS
            failed |= not ok
            points = len(answer["series"]["Voltage [V]"]["row"])
            source = f"{answer['source']}/{answer['bucket_rows']}"
            print(f"{name:<24}{median:>11.1f}{p95:>9.1f}{points:>8}  {source:<9} {'PASS' if ok else 'FAIL'}")
        print(f"\ntarget: p95 < {TARGET_MS:.0f} ms per query: {'FAIL' if failed else 'PASS'}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
