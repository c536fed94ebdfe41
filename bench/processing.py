"""Processing a stored series: cellstore against ionworksdata and a bare parquet read, side by side.

    .venv/bin/python bench/processing.py                 # 1M, 10M and 50M rows
    .venv/bin/python bench/processing.py --rows 1M,10M   # a quicker run

For each size it writes a realistic cycling series (``bench/_series.py``: 1 Hz, CC
discharge / rest / CC charge / CV hold / rest, cumulative capacity and energy
columns, noise) as a client uploads it (polars, zstd) into a temporary directory,
then measures, each in a fresh subprocess so that peak RSS is that measurement's own:

* ``cellstore``: ``process_series`` — read, validate, steps, cycles, write both tables;
* ``ionworksdata``: ``read_parquet`` + ``ionworksdata.steps.summarize`` +
  ``ionworksdata.cycle_metrics.get_cycle_metrics`` (skipped where its estimated
  memory exceeds ``--iwdata-max-gb``);
* ``polars read``: a bare ``polars.read_parquet`` of the same file;
* ``extend``: the whole work of the extend job for 10,000 more rows on the 10M series, on a
  local object store as the worker has it: validate the delta against the end of the series
  and store it as a segment, recompute the steps from the previous version's last step on and
  the cycles, store them and the manifest (``tasks._stitch``; the database update is left
  out). The previous series is neither copied nor read whole;
* ``processing job``: what the worker does for an upload, for comparison with the extend job:
  ``process_series`` plus building the overview of ``/series`` and storing the three objects
  (``tasks._process_upload``);
* ``compaction``: the background job that follows the extend, which the extend does not wait
  for: it stores that version's overview (updated from the previous one) and, once the segments
  are worth joining (``segments.worth_joining``: an eighth of the rows, or 32 segments; not
  after this one extend), the series as one file (``tasks._compact``). That join, a byte-level
  append of the base and the segments, is timed apart, and shown per extend when 32 extends
  of this size share it.

Each run first does its own work once on a small series (20,000 rows), untimed, as a
long-running worker has done before: one-time start-up (thread pools, the first use of
each expression) would otherwise be counted, and it is about as large as a whole extend.
Wall time is the median of ``--repeat`` runs (of three times as many for the extend, which
takes tens of milliseconds and so moves most with the machine's noise), with the best run
beside it (the machine may be shared); CPU time is user + system of the median run; peak
RSS is the largest VmHWM of the runs. The targets of issue 4 are checked on the medians.
Everything generated is deleted on exit.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._series import RATED_CAPACITY_AH, cycling_chunks  # noqa: E402

from cellstore.measurements.segments import MAX_SEGMENTS  # noqa: E402

EXTEND_ROWS = 10_000
#: The extend is measured this many times as often as the rest: it is short, and a median of
#: three of its runs moved by a third from one run of the benchmark to the next.
EXTEND_REPEAT = 3
#: Rows of the series each run first processes untimed (and of its extension), to warm up.
WARM_ROWS, WARM_EXTEND_ROWS = 20_000, 1_000
#: ionworksdata holds the whole frame plus its derived columns and group-by state.
IWDATA_BYTES_PER_ROW = 300

# Each measurement is one of these snippets, run as ``python -c`` with the paths in argv.
_PRELUDE = """
import json, resource, sys, time
from pathlib import Path
import polars as pl
args = [Path(a) for a in sys.argv[1:]]
WARM = Path(WARM_DIR)
def done(**figures):
    usage = resource.getrusage(resource.RUSAGE_SELF)
    figures.setdefault("cpu", usage.ru_utime + usage.ru_stime - cpu0)
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec.
    status = Path("/proc/self/status").read_text()
    figures["rss_mb"] = int(status.split("VmHWM:")[1].split()[0]) / 1024
    print("RESULT " + json.dumps(figures))
"""
# The extend and compaction runs: a local object store under the work directory, holding
# version 0 (the series, its steps, tail and overview) as ``prepare_store`` left it.
_STORE = """
from cellstore.measurements import keys
from cellstore.storage.local import LocalObjectStore
ORG, MID = "bench-org", "bench-measurement"
store = LocalObjectStore(args[-1] / "objects", b"bench" * 8)
def warm_store(name):
    # A fresh store holding version 0 of the small warm-up series, not yet processed.
    import shutil
    shutil.rmtree(WARM / name, ignore_errors=True)
    warm = LocalObjectStore(WARM / name, b"bench" * 8)
    warm.put_file(keys.series_key(ORG, MID, 0), WARM / "series.parquet")
    return warm
"""
_START = """
usage0 = resource.getrusage(resource.RUSAGE_SELF); cpu0 = usage0.ru_utime + usage0.ru_stime
t0 = time.perf_counter()
"""
SNIPPETS = {
    "cellstore": """
from cellstore.processing.pipeline import process_series
warm = [WARM / name for name in ("series.parquet", "steps.parquet", "cycles.parquet")]
process_series(*warm, rated_capacity_ah=RATED)
"""
    + _START
    + """
steps, cycles = args[1] / "steps.parquet", args[1] / "cycles.parquet"
result = process_series(args[0], steps, cycles, rated_capacity_ah=RATED)
done(wall=time.perf_counter() - t0, rows=result.rows, steps=result.steps, cycles=result.cycles)
""",
    "ionworksdata": """
import ionworksdata
spec = {"ratings": {"capacity": {"value": RATED, "unit": "A.h"}}}
ionworksdata.cycle_metrics.get_cycle_metrics(
    ionworksdata.steps.summarize(pl.read_parquet(WARM / "series.parquet"), cell_spec=spec)
)
"""
    + _START
    + """
df = pl.read_parquet(args[0])
t1 = time.perf_counter()
steps = ionworksdata.steps.summarize(df, cell_spec=spec)
cycles = ionworksdata.cycle_metrics.get_cycle_metrics(steps)
done(wall=time.perf_counter() - t0, compute=time.perf_counter() - t1, rows=df.height, steps=steps.height)
""",
    "polars read": """
pl.read_parquet(WARM / "series.parquet")
"""
    + _START
    + """
df = pl.read_parquet(args[0])
done(wall=time.perf_counter() - t0, rows=df.height)
""",
    "extend": _STORE
    + """
from cellstore.measurements import tasks
store.put_file(keys.upload_key(ORG, MID, keys.EXTEND_FILE), args[1])
calls = {}
def timed(name, function):
    def run(*a, **k):
        t = time.perf_counter()
        try:
            return function(*a, **k)
        finally:
            calls[name] = calls.get(name, 0.0) + time.perf_counter() - t
    return run
warm = warm_store("extend")
tasks._process_upload(warm, ORG, MID, {"value": RATED, "unit": "A.h"})
warm.put_file(keys.upload_key(ORG, MID, keys.EXTEND_FILE), WARM / "delta.parquet")
tasks._stitch(warm, ORG, MID, 1, {"value": RATED, "unit": "A.h"})
store.delete_prefix(keys.version_prefix(ORG, MID, 1))  # the run before this one's
tasks.write_segment = timed("segment", tasks.write_segment)
tasks.derive_extended = timed("recompute", tasks.derive_extended)
"""
    + _START
    + """
rows = tasks._stitch(store, ORG, MID, 1, {"value": RATED, "unit": "A.h"})
wall = time.perf_counter() - t0
assert store.size(keys.series_key(ORG, MID, 1)) is None, "the extend must not write the whole series"
done(wall=wall, rows=rows, **calls)
""",
    "processing job": _STORE
    + """
import os
from cellstore.measurements import tasks
store = LocalObjectStore(args[-1] / "job-objects", b"bench" * 8)
upload = store.object_path(keys.series_key(ORG, MID, 0))
if not upload.exists():
    upload.parent.mkdir(parents=True, exist_ok=True)
    os.link(args[0], upload)
store.delete_prefix(keys.version_prefix(ORG, MID, 0))
tasks._process_upload(warm_store("job"), ORG, MID, {"value": RATED, "unit": "A.h"})
"""
    + _START
    + """
rows = tasks._process_upload(store, ORG, MID, {"value": RATED, "unit": "A.h"})
done(wall=time.perf_counter() - t0, rows=rows)
""",
    "compaction": _STORE
    + """
from cellstore.measurements import analysis, segments, tasks
store.delete(keys.series_key(ORG, MID, 1))
store.delete(keys.overview_key(ORG, MID, 1))
if store.size(keys.overview_key(ORG, MID, 0)) is None:  # the run before this one's job dropped it
    analysis.store_overview(store, ORG, MID, 0, store.object_path(keys.series_key(ORG, MID, 0)))
"""
    + _START
    + """
tasks._compact(store, ORG, MID, 1)
wall = time.perf_counter() - t0
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu = usage.ru_utime + usage.ru_stime - cpu0
assert store.size(keys.series_key(ORG, MID, 1)) is None, "one small extend is not worth a join"
t1 = time.perf_counter()
segments.compact(store, ORG, MID, 1)  # the join, as the job does once the segments are worth it
done(wall=wall, cpu=cpu, join=time.perf_counter() - t1, bytes=store.size(keys.series_key(ORG, MID, 1)))
""",
}


@dataclass
class Figure:
    wall: float  # median
    best: float
    cpu: float
    rss_mb: float
    extra: dict


def parse_rows(text: str) -> list[int]:
    sizes = []
    for part in text.split(","):
        part = part.strip().upper()
        scale = {"K": 1_000, "M": 1_000_000}.get(part[-1:], 1)
        sizes.append(int(float(part.rstrip("KM")) * scale))
    return sizes


def label(rows: int) -> str:
    return f"{rows // 1_000_000}M" if rows % 1_000_000 == 0 else f"{rows:,}"


def write_series(path: Path, rows: int, *, start: int = 0) -> None:
    """Write rows as the client does (polars, zstd), in parts so that 50M rows never sit in memory."""
    import polars as pl

    parts_dir = path.with_suffix(".parts")
    parts_dir.mkdir()
    try:
        parts = []
        for i, chunk in enumerate(cycling_chunks(rows, start=start, chunk_rows=4 << 20)):
            part = parts_dir / f"{i:05d}.parquet"
            chunk.write_parquet(part, compression="zstd")
            parts.append(part)
        pl.scan_parquet(parts).sink_parquet(path, compression="zstd", row_group_size=512 * 512)
    finally:
        shutil.rmtree(parts_dir)


def prepare_store(series: Path, work: Path) -> None:
    """Version 0 of a measurement in a local store under ``work``, as processing leaves it: the
    uploaded series (hard-linked, not copied), its steps (the cellstore run's), the tail that
    processing keeps for the next extend, and its overview."""
    import polars as pl

    from cellstore.measurements import analysis, keys
    from cellstore.processing import parquet, stream
    from cellstore.storage.local import LocalObjectStore

    store = LocalObjectStore(work / "objects", b"bench" * 8)
    org, mid = "bench-org", "bench-measurement"
    upload = store.object_path(keys.series_key(org, mid, 0))
    upload.parent.mkdir(parents=True, exist_ok=True)
    upload.hardlink_to(series)
    store.put_file(keys.derived_key(org, mid, 0, keys.STEPS_FILE), work / "steps.parquet")
    steps = pl.read_parquet(work / "steps.parquet")
    tail = stream.read_tail(upload, steps, parquet.footer_rows(upload))
    if tail is not None:
        tail.write_parquet(work / "tail.parquet")
        store.put_file(keys.derived_key(org, mid, 0, keys.TAIL_FILE), work / "tail.parquet")
    analysis.store_overview(store, org, mid, 0, upload)


def write_warm_up(warm: Path) -> None:
    """The small series (and extension) every run processes once before it is timed."""
    warm.mkdir()
    write_series(warm / "series.parquet", WARM_ROWS)
    write_series(warm / "delta.parquet", WARM_EXTEND_ROWS, start=WARM_ROWS)


def measure(kind: str, paths: list[Path], repeat: int, warm: Path) -> Figure:
    code = (
        (_PRELUDE + SNIPPETS[kind])
        .replace("RATED", repr(RATED_CAPACITY_AH))
        .replace("WARM_DIR", repr(str(warm)))
    )
    runs = []
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, "-c", code, *map(str, paths)],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        if done.returncode != 0 or not lines:
            raise SystemExit(f"{kind} failed:\n{done.stdout}\n{done.stderr}")
        runs.append(json.loads(lines[-1][len("RESULT ") :]))
    runs.sort(key=lambda r: r["wall"])
    median = runs[len(runs) // 2]
    extra = {k: v for k, v in median.items() if k not in ("wall", "cpu", "rss_mb")}
    return Figure(
        statistics.median(r["wall"] for r in runs),
        runs[0]["wall"],
        median["cpu"],
        max(r["rss_mb"] for r in runs),
        extra,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows", default="1M,10M,50M", help="comma-separated sizes, e.g. 1M,10M (default: %(default)s)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per measurement up to 10M rows (50M: once)"
    )
    parser.add_argument(
        "--iwdata-max-gb", type=float, default=8.0, help="skip ionworksdata above this memory"
    )
    parser.add_argument("--tmp", type=Path, default=None, help="where to write the generated files")
    options = parser.parse_args()
    sizes = parse_rows(options.rows)
    try:
        import ionworksdata  # noqa: F401

        have_iwdata = True
    except ImportError:
        have_iwdata = False
        print("ionworksdata is not installed: its column is skipped (see pyproject's test extra)")

    results: dict[tuple[int, str], Figure | str] = {}
    with tempfile.TemporaryDirectory(prefix="cellstore-bench-", dir=options.tmp) as tmp:
        root = Path(tmp)
        warm = root / "warm"
        write_warm_up(warm)
        for rows in sizes:
            series = root / f"series_{label(rows)}.parquet"
            work = root / f"work_{label(rows)}"
            work.mkdir()
            print(f"writing {label(rows)} rows ...", flush=True)
            write_series(series, rows)
            repeat = options.repeat if rows <= 10_000_000 else 1
            for kind in ("polars read", "cellstore", "ionworksdata"):
                if kind == "ionworksdata":
                    estimate_gb = rows * IWDATA_BYTES_PER_ROW / 1e9
                    if not have_iwdata:
                        results[(rows, kind)] = "not installed"
                        continue
                    if estimate_gb > options.iwdata_max_gb:
                        results[(rows, kind)] = f"skipped: needs ~{estimate_gb:.0f} GB"
                        continue
                print(f"  {kind} ...", flush=True)
                results[(rows, kind)] = measure(kind, [series, work], repeat, warm)
            if rows == 10_000_000:
                delta = root / "extend_delta.parquet"
                write_series(delta, EXTEND_ROWS, start=rows)
                print("  extend ...", flush=True)
                # Version 0's steps are the cellstore run's; each run writes version 1 again.
                print("  processing job ...", flush=True)
                results[(rows, "processing job")] = measure("processing job", [series, work], repeat, warm)
                prepare_store(series, work)
                paths = [series, delta, work]
                results[(rows, "extend")] = measure("extend", paths, EXTEND_REPEAT * repeat, warm)
                print("  compaction ...", flush=True)
                results[(rows, "compaction")] = measure("compaction", [series, delta, work], repeat, warm)
            series.unlink()
            shutil.rmtree(work)
    report(sizes, results)


def report(sizes: list[int], results: dict[tuple[int, str], Figure | str]) -> None:
    print()
    print(
        f"{'rows':>5}  {'measurement':<38} {'wall s':>7} {'best s':>7} {'CPU s':>6} "
        f"{'rows/s':>12} {'peak RSS MB':>11}"
    )
    for rows in sizes:
        for kind in ("polars read", "cellstore", "ionworksdata", "processing job", "extend", "compaction"):
            figure = results.get((rows, kind))
            if figure is None:
                continue
            if isinstance(figure, str):
                print(f"{label(rows):>5}  {kind:<38} {figure}")
                continue
            name = kind
            if kind == "ionworksdata":
                name = f"ionworksdata (summarize+cycles {figure.extra['compute']:.2f}s)"
            if kind == "extend":
                name = f"extend {EXTEND_ROWS:,} rows (steps {figure.extra['recompute']:.2f}s)"
            if kind == "processing job":
                name = "processing job (with overview, stored)"
            if kind == "compaction":
                name = f"background job (join {figure.extra['join']:.2f}s)"
            counted = EXTEND_ROWS if kind == "extend" else rows
            # The background job's rows are the extend's, already counted: no rate of its own.
            rate = "" if kind == "compaction" else f"{counted / figure.wall:,.0f}"
            print(
                f"{label(rows):>5}  {name:<38} {figure.wall:7.3f} {figure.best:7.3f} {figure.cpu:6.2f} "
                f"{rate:>12} {figure.rss_mb:11.0f}"
            )
    print()
    checks = []

    def get(rows: int, kind: str) -> Figure | None:
        figure = results.get((rows, kind))
        return figure if isinstance(figure, Figure) else None

    for rows in sizes:
        cellstore, iwdata, read = get(rows, "cellstore"), get(rows, "ionworksdata"), get(rows, "polars read")
        if cellstore and iwdata:
            ratio = iwdata.wall / cellstore.wall
            strict = iwdata.extra["compute"] / cellstore.wall
            target = rows == 10_000_000
            checks.append(
                (
                    f"{label(rows)}: throughput vs ionworksdata (read+summarize+cycles)",
                    f"{ratio:.2f}x (vs its summarize+cycles alone: {strict:.2f}x)",
                    ">= 2x",
                    ratio >= 2 if target else None,
                )
            )
        if cellstore and read:
            ratio = cellstore.wall / read.wall
            cpu = cellstore.cpu / read.cpu
            checks.append(
                (
                    f"{label(rows)}: processing / bare polars read",
                    f"{ratio:.2f}x wall ({cpu:.2f}x CPU)",
                    "<= 1.5x",
                    ratio <= 1.5 if rows == 10_000_000 else None,
                )
            )
        if cellstore and rows >= 50_000_000:
            checks.append(
                (
                    f"{label(rows)}: peak RSS of processing",
                    f"{cellstore.rss_mb:.0f} MB",
                    "<= 600 MB",
                    cellstore.rss_mb <= 600,
                )
            )
        extend, compaction = get(rows, "extend"), get(rows, "compaction")
        job = get(rows, "processing job")
        if extend and cellstore:
            # Like against like: the extend job (segment, steps, cycles and manifest, all stored; the
            # overview and compaction are a later job) against the worker's job for the whole series;
            # and the extend's processing (check and write the segment, recompute the tail steps and
            # the cycles, write both tables) against process_series, which does the same for the
            # whole series. The job against process_series alone mixes the two and is shown as is.
            segment, recompute = extend.extra["segment"], extend.extra["recompute"]
            parts = f"segment {segment:.3f} s, steps+cycles {recompute:.3f} s"
            if job:
                share = extend.wall / job.wall
                checks.append(
                    (
                        f"{label(rows)}: extend {EXTEND_ROWS:,} rows, extend job / whole processing job",
                        f"{share:.1%} ({parts})",
                        "<= 5%",
                        share <= 0.05,
                    )
                )
            processing = (segment + recompute) / cellstore.wall
            checks.append(
                (
                    f"{label(rows)}: extend {EXTEND_ROWS:,} rows, its processing / process_series",
                    f"{processing:.1%}",
                    "<= 5%",
                    processing <= 0.05,
                )
            )
            checks.append(
                (
                    f"{label(rows)}: extend {EXTEND_ROWS:,} rows, extend job / process_series alone",
                    f"{extend.wall / cellstore.wall:.1%} (the job also reads and stores objects)",
                    "-",
                    None,
                )
            )
            if compaction:
                join = compaction.extra["join"]
                checks.append(
                    (
                        f"{label(rows)}: background job after the extend / process_series",
                        f"{compaction.wall / cellstore.wall:.1%} (its overview; the join is later)",
                        "-",
                        None,
                    )
                )
                checks.append(
                    (
                        f"{label(rows)}: the join ({compaction.extra['bytes'] / 1e6:.0f} MB), per extend",
                        f"{join / MAX_SEGMENTS / cellstore.wall:.1%} of process_series "
                        f"({join:.2f} s once per {MAX_SEGMENTS} extends)",
                        "-",
                        None,
                    )
                )
    width = max((len(c[0]) for c in checks), default=10)
    for name, value, target, passed in checks:
        verdict = "" if passed is None else ("PASS" if passed else "FAIL")
        print(f"{name:<{width}}  {value:<44} target {target:<8} {verdict}")


if __name__ == "__main__":
    main()
