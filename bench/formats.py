"""Instrument-file conversion: rows per second and peak memory, per format family (issue 5).

    .venv/bin/python bench/formats.py            # largest real file per family, 10M-row exports, ~1 GB
    .venv/bin/python bench/formats.py --quick    # the same at 200k rows and ~50 MB

Each file goes through ``cellstore.raw_data.tasks.convert_file_to``, the function the
conversion job runs (detect, read, normalise, write the stored parquet; text exports
streamed in batches), in a fresh subprocess, so that the wall time and the peak RSS
(VmHWM) are that conversion's own. Rows per second are the series rows written over
the wall time of the call (imports not counted; the RSS does include them).

The files:

* for each family, the largest real file of ``/work/shared/testdata`` (``CELLSTORE_TESTDATA``);
* text exports scaled up to ``--rows`` (10M) for Arbin CSV, Maccor text, Neware CSV and
  BioLogic .mpt, made by repeating a real file's data rows with time, record number and
  cycle number continued (so steps and cycles keep counting up and time never goes back);
* one Arbin CSV of about ``--gigabytes`` (1 GB).

Targets: text exports at ≥ 1M rows/s; the 1 GB export in < 1 GB of RSS. Everything
generated is deleted on exit.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
TESTDATA = Path(os.environ.get("CELLSTORE_TESTDATA", "/work/shared/testdata"))
RATE_TARGET = 1_000_000
RSS_TARGET_MB = 1024
#: Families whose files are text exports (the rows/s target applies to them).
TEXT_FAMILIES = {
    "arbin_csv",
    "basytec",
    "batteryarchive",
    "batterydata_doe",
    "bdf_csv",
    "biologic_csv",
    "biologic_mpt",
    "cellstore_csv",
    "maccor_txt",
    "neware_csv",
    "novonix",
    "pec",
}

_CHILD = """
import json, resource, sys, time
from pathlib import Path
import pyarrow.parquet as pq
from cellstore.raw_data.tasks import convert_file_to
path, out = Path(sys.argv[1]), Path(sys.argv[2])
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
t0, c0 = time.perf_counter(), cpu()
series = convert_file_to(path, path.name, out)
seconds, cpu_seconds = time.perf_counter() - t0, cpu() - c0
rows = pq.ParquetFile(out).metadata.num_rows
status = Path("/proc/self/status").read_text()
rss = int(status.split("VmHWM:")[1].split()[0]) / 1024
figures = {"family": series.family, "rows": rows, "seconds": seconds, "cpu": cpu_seconds, "rss_mb": rss}
print("RESULT " + json.dumps(figures))
"""


@dataclass
class Synthetic:
    """How to continue a real file: its data rows repeated, these columns carried on."""

    family: str
    source: str  # under TESTDATA
    separator: str
    #: Columns of seconds (numbers) moved on by the block's span at each repeat.
    seconds: tuple[str, ...] = ()
    #: Column of ``[Nd ]hh:mm:ss`` text moved on the same way: (name, with days).
    clock: tuple[str, bool] | None = None
    cycle: str | None = None
    record: str | None = None


SYNTHETIC = [
    Synthetic(
        "arbin_csv",
        "arbin_csv/beep_FastCharge_000025_CH8.csv",
        ",",
        seconds=("Test_Time", "DateTime"),
        cycle="Cycle_Index",
        record="Data_Point",
    ),
    Synthetic(
        "maccor_txt",
        "maccor_txt/cellpy_maccor_three.txt",
        "\t",
        clock=("TestTime", True),
        cycle="Cyc#",
        record="Rec#",
    ),
    Synthetic(
        "neware_csv",
        "neware_csv/cellpy_neware_uio.csv",
        ",",
        clock=("Cumulative Time", False),
        cycle="Cycle Index",
        record="DataPoint",
    ),
    Synthetic("biologic_mpt", "biologic_mpt/yadg_cv.mpt", "\t", seconds=("time/s",), cycle="cycle number"),
]


def _split(path: Path, family: str) -> tuple[str, list[str]]:
    """A real file's preamble + header (text) and its data lines."""
    text = path.read_bytes().decode("utf-8", errors="replace").replace("\r\n", "\n")
    lines = text.split("\n")
    if family == "biologic_mpt":
        count = int(lines[1].split(":")[1])
        start = count
    elif family == "maccor_txt":
        start = next(i for i, line in enumerate(lines) if line.startswith("Rec#")) + 1
    else:
        start = 1
    return "\n".join(lines[:start]) + "\n", [line for line in lines[start:] if line.strip()]


def _clock_seconds(expr: pl.Expr) -> pl.Expr:
    parts = expr.str.strip_chars().str.extract_groups(r"^(?:(\d+)d\s*)?(\d+):(\d+):([\d.]+)$").struct
    return (
        parts.field("1").cast(pl.Float64).fill_null(0.0) * 86400
        + parts.field("2").cast(pl.Float64) * 3600
        + parts.field("3").cast(pl.Float64) * 60
        + parts.field("4").cast(pl.Float64)
    )


def _clock_text(seconds: pl.Expr, days: bool) -> pl.Expr:
    whole = seconds.floor().cast(pl.Int64)
    fraction = (seconds - seconds.floor()).round(2)
    ss = ((whole % 60).cast(pl.Float64) + fraction).round(2).cast(pl.String)
    mm = ((whole // 60) % 60).cast(pl.String).str.zfill(2)
    if days:
        hh = ((whole // 3600) % 24).cast(pl.String).str.zfill(2)
        return pl.format("  {}d {}:{}:{}", whole // 86400, hh, mm, ss)
    return pl.format("{}:{}:{}", (whole // 3600).cast(pl.String).str.zfill(2), mm, ss)


def generate(spec: Synthetic, out: Path, *, rows: int | None = None, size: int | None = None) -> int:
    """Write a continued copy of ``spec.source`` with ``rows`` data rows (or about ``size`` bytes)."""
    preamble, lines = _split(TESTDATA / spec.source, spec.family)
    header = preamble.rstrip("\n").split("\n")[-1]
    names = [n if n else f"_{i}" for i, n in enumerate(header.split(spec.separator))]
    width = max(line.count(spec.separator) + 1 for line in lines)
    names = names[:width] + [f"_{i}" for i in range(len(names), width)]
    block = pl.read_csv(
        "\n".join(lines).encode(),
        has_header=False,
        new_columns=names,
        schema=dict.fromkeys(names, pl.String),
        separator=spec.separator,
        quote_char=None,
        truncate_ragged_lines=True,
    )
    n = block.height
    numbers = {name: block[name].str.strip_chars().cast(pl.Float64) for name in spec.seconds}
    if spec.clock:
        numbers[spec.clock[0]] = block.select(_clock_seconds(pl.col(spec.clock[0]))).to_series()
    first = next(iter(numbers.values()))
    span = float(first.max() - first.min()) + float(first.diff().drop_nulls().median() or 1.0)
    cycles = int(block[spec.cycle].str.strip_chars().cast(pl.Float64).max() or 0) + 1 if spec.cycle else 0
    whole_cycles = bool(spec.cycle) and block[spec.cycle].str.contains(r"^\s*-?\d+\s*$").all()
    bytes_per_row = len("\n".join(lines).encode()) / n
    target = rows if rows is not None else int((size or 0) / bytes_per_row)
    written = 0
    with open(out, "wb") as file:
        file.write(preamble.encode())
        while written < target:
            take = min(1_000_000, target - written)
            index = pl.int_range(written, written + take, eager=True)
            rows_of_block = index % n
            k = pl.lit(index // n)
            part = block.select(pl.all().gather(rows_of_block))
            exprs = []
            for name in spec.seconds:
                exprs.append((pl.lit(numbers[name].gather(rows_of_block)) + k * span).alias(name))
            if spec.clock:
                name, days = spec.clock
                moved = pl.lit(numbers[name].gather(rows_of_block)) + k * span
                exprs.append(_clock_text(moved, days).alias(name))
            if spec.cycle:
                cycle = pl.col(spec.cycle).str.strip_chars().cast(pl.Float64) + k * cycles
                exprs.append((cycle.cast(pl.Int64) if whole_cycles else cycle).alias(spec.cycle))
            if spec.record:
                exprs.append(pl.int_range(written + 1, written + take + 1).alias(spec.record))
            part = part.with_columns(exprs)
            part.write_csv(file, include_header=False, separator=spec.separator, quote_style="never")
            written += take
    return written


def measure(path: Path, work: Path) -> dict:
    out = work / f"{path.name}.parquet"
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    out.unlink(missing_ok=True)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{path.name}: {done.stderr.strip()[-2000:]}")


def largest_real_files() -> list[Path]:
    sys.path.insert(0, str(ROOT / "src"))
    from cellstore.formats.detect import UnknownFormat, detect

    best: dict[str, Path] = {}
    for path in sorted(TESTDATA.rglob("*")):
        parts = set(path.relative_to(TESTDATA).parts)
        if not path.is_file() or path.name == "MANIFEST.md" or parts & {"references", "reference"}:
            continue
        try:
            family = detect(path).family
        except UnknownFormat:
            continue
        if family not in best or path.stat().st_size > best[family].stat().st_size:
            best[family] = path
    return [best[family] for family in sorted(best)]


def _count(text: str) -> int:
    text = text.upper().replace("_", "")
    scale = {"K": 1_000, "M": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("KM")) * scale)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", default="10M", help="rows of each scaled text export (default 10M)")
    parser.add_argument(
        "--gigabytes", type=float, default=1.0, help="size of the big Arbin export (default 1)"
    )
    parser.add_argument("--quick", action="store_true", help="200k rows and 50 MB instead")
    parser.add_argument("--skip-real", action="store_true", help="only the generated files")
    parser.add_argument("--only", default="", help="comma-separated families of the generated files to run")
    args = parser.parse_args()
    rows = 200_000 if args.quick else _count(args.rows)
    size = int((0.05 if args.quick else args.gigabytes) * 1e9)

    results: list[tuple[str, str, float, dict]] = []
    work = Path(tempfile.mkdtemp(prefix="cellstore-bench-formats-"))
    try:
        if not args.skip_real:
            for path in largest_real_files():
                figures = measure(path, work)
                results.append(("real", f"{path.parent.name}/{path.name}", path.stat().st_size, figures))
                _print_row(results[-1])
        jobs = [(spec, rows, None) for spec in SYNTHETIC] + [(SYNTHETIC[0], None, size)]
        if args.only:
            jobs = [job for job in jobs if job[0].family in args.only.split(",")]
        for spec, count, nbytes in jobs:
            suffix = Path(spec.source).suffix
            path = work / f"{spec.family}_{'rows' if count else 'size'}{suffix}"
            started = time.perf_counter()
            generate(spec, path, rows=count, size=nbytes)
            made = time.perf_counter() - started
            label = f"{spec.family} scaled, {_human(path.stat().st_size)} (made in {made:.0f} s)"
            figures = measure(path, work)
            results.append(("scaled" if count else "1 GB", label, path.stat().st_size, figures))
            _print_row(results[-1])
            path.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(table(results))


def _human(size: float) -> str:
    return f"{size / 1e9:.2f} GB" if size >= 1e8 else f"{size / 1e6:.2f} MB"


def _print_row(result: tuple[str, str, float, dict]) -> None:
    kind, label, _size, f = result
    rate = f["rows"] / f["seconds"] if f["seconds"] else 0
    figures = f"{f['rows']:,} rows, {f['seconds']:.2f} s ({f['cpu']:.1f} s CPU), {rate:,.0f} rows/s"
    figures += f", {f['rss_mb']:.0f} MB"
    print(f"  {kind:6} {label}: {figures}", flush=True)


def table(results: list[tuple[str, str, float, dict]]) -> str:
    lines = [
        "| file | family | size | rows | wall s | CPU s | rows/s | peak RSS MB "
        "| ≥ 1M rows/s (text) | < 1 GB RSS (≥ 1 GB export) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for kind, label, size, f in results:
        rate = f["rows"] / f["seconds"] if f["seconds"] else 0.0
        text = f["family"] in TEXT_FAMILIES
        rate_verdict = ("PASS" if rate >= RATE_TARGET else "FAIL") if text else "n/a (binary or EIS)"
        if kind == "real" and text:
            rate_verdict += " (small file)" if f["rows"] < 100_000 else ""
        # Every generated file is a gigabyte or more, so the memory target is checked on each.
        rss_verdict = ("PASS" if f["rss_mb"] < RSS_TARGET_MB else "FAIL") if kind != "real" else ""
        cells = [label, f["family"], _human(size), f"{f['rows']:,}", f"{f['seconds']:.2f}", f"{f['cpu']:.1f}"]
        cells += [f"{rate:,.0f}", f"{f['rss_mb']:.0f}", rate_verdict, rss_verdict]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
