"""A multi-resolution overview of a time series, and downsampled windows read from it.

Plotting a window of a 50-million-row series must not read 50 million rows. At
processing time the series is cut into buckets of ``2**k`` rows at a few levels
(``k`` = 10, 13, 16, ...), and every bucket keeps, for each numeric column, its
first, last, min and max values and the rows of the min and max. A window is then
answered M4-style: per output bucket the first, min, max and last point of each
y column, so peaks are never lost. Output buckets are built by merging whole
overview buckets (exact for min and max); the ragged ends of a window are covered
by finer levels and finally by at most ``2**10`` raw rows on each side. Small
windows are answered from raw rows alone, read by slicing the parquet file so
only the row groups they touch are decoded.

An extend touches only the last bucket of every level and the ones after it, so
:func:`update_overview` recomputes just those from the appended rows.

Frames hold one row per bucket, in row order, with ``row_first``/``row_last``
(inclusive) and, for the column numbered ``i`` in :attr:`Overview.columns`,
``c{i}_first``, ``c{i}_last``, ``c{i}_min``, ``c{i}_max`` (Float64, NaN stored as
null) and ``c{i}_argmin``, ``c{i}_argmax`` (absolute rows, Int64).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from cellstore.processing import parquet

#: log2 of the finest bucket size, and the spacing of the levels (factor 8 between them).
FINEST = 10
LEVEL_STEP = 3
#: Rows decoded at once while building (a multiple of every bucket size up to 2**20).
CHUNK_ROWS = 1 << 20
#: A downsampled window of at most this many rows is computed from raw rows (exact points).
RAW_LIMIT = 1 << 19
METADATA_KEY = "cellstore.overview"
FORMAT = 1

Source = parquet.Source

ROW_FIRST, ROW_LAST = "row_first", "row_last"
STATS = ("first", "last", "min", "max", "argmin", "argmax")


class OverviewError(ValueError):
    """A request the series cannot answer (unknown column, bad window); the message says why."""


@dataclass(frozen=True)
class Overview:
    """Buckets of a series at several resolutions; ``levels`` maps log2(bucket rows) to its frame."""

    rows: int
    columns: tuple[str, ...]
    dtypes: tuple[str, ...]
    monotonic: tuple[bool, ...]
    levels: dict[int, pl.DataFrame] = field(repr=False)

    def index(self, column: str) -> int:
        try:
            return self.columns.index(column)
        except ValueError:
            known = ", ".join(self.columns)
            raise OverviewError(
                f"Unknown or non-numeric column {column!r}; numeric columns: {known}"
            ) from None

    def nbytes(self) -> int:
        return sum(frame.estimated_size() for frame in self.levels.values())


def level_sizes(rows: int) -> list[int]:
    """The levels (log2 bucket rows) kept for a series of ``rows``: the finest, then every coarser
    level that still has more than one bucket."""
    levels = [FINEST]
    while (1 << (levels[-1] + LEVEL_STEP)) < rows:
        levels.append(levels[-1] + LEVEL_STEP)
    return levels


def _name(i: int, stat: str) -> str:
    return f"c{i}_{stat}"


def _scan(source: Source) -> pl.LazyFrame:
    return parquet.scan_source(source)


def _values(names: list[str]) -> list[pl.Expr]:
    return [pl.col(n).cast(pl.Float64).fill_nan(None).alias(f"c{i}") for i, n in enumerate(names)]


def _bucket_stats(frame: pl.DataFrame, count: int, size: int) -> pl.DataFrame:
    """Buckets of ``size`` rows of ``frame`` (columns ``row`` and ``c0``...), stats as in the module doc."""
    aggs: list[pl.Expr] = [pl.col("row").first().alias(ROW_FIRST), pl.col("row").last().alias(ROW_LAST)]
    for i in range(count):
        c = pl.col(f"c{i}")
        aggs += [
            c.first().alias(_name(i, "first")),
            c.last().alias(_name(i, "last")),
            c.min().alias(_name(i, "min")),
            c.max().alias(_name(i, "max")),
            (pl.col("row").first() + c.arg_min().cast(pl.Int64)).alias(_name(i, "argmin")),
            (pl.col("row").first() + c.arg_max().cast(pl.Int64)).alias(_name(i, "argmax")),
        ]
    return (
        frame.group_by((pl.col("row") // size).alias("_bucket"), maintain_order=True)
        .agg(aggs)
        .drop("_bucket")
    )


def merge(pieces: pl.DataFrame, key: pl.Expr, columns: list[int]) -> pl.DataFrame:
    """Merge consecutive pieces (buckets, or single rows) that share ``key`` into one bucket each,
    for the numbered columns.

    ``pieces`` must be in row order. Min and max stay exact; ties keep the earliest row.
    """
    aggs: list[pl.Expr] = [pl.col(ROW_FIRST).min(), pl.col(ROW_LAST).max()]
    for i in columns:
        low, high = pl.col(_name(i, "min")), pl.col(_name(i, "max"))
        aggs += [
            pl.col(_name(i, "first")).first(),
            pl.col(_name(i, "last")).last(),
            low.min(),
            high.max(),
            pl.col(_name(i, "argmin")).sort_by(low, nulls_last=True, maintain_order=True).first(),
            pl.col(_name(i, "argmax"))
            .sort_by(high, descending=True, nulls_last=True, maintain_order=True)
            .first(),
        ]
    return pieces.group_by(key.alias("_key"), maintain_order=True).agg(aggs).drop("_key")


def _monotonic(values: np.ndarray, previous: float | None) -> tuple[bool, float | None]:
    """Whether ``values`` (nulls dropped) continue ``previous`` without decreasing; and the last value."""
    if previous is not None:
        values = np.concatenate(([previous], values))
    if values.size == 0:
        return True, previous
    return bool(np.all(np.diff(values) >= 0)), float(values[-1])


def _finest(
    lf: pl.LazyFrame, names: list[str], start: int, stop: int, monotonic: list[bool]
) -> tuple[pl.DataFrame, list[bool]]:
    """Finest-level buckets of rows ``[start, stop)`` (``start`` on a bucket boundary), read in chunks."""
    frames = []
    monotonic = list(monotonic)
    last: list[float | None] = [None] * len(names)
    for offset in range(start, stop, CHUNK_ROWS):
        height = min(CHUNK_ROWS, stop - offset)
        chunk = (
            lf.slice(offset, height)
            .select(pl.int_range(offset, offset + height, dtype=pl.Int64).alias("row"), *_values(names))
            .collect()
        )
        for i in range(len(names)):
            ok, last[i] = _monotonic(chunk[f"c{i}"].drop_nulls().to_numpy(), last[i])
            monotonic[i] = monotonic[i] and ok
        frames.append(_bucket_stats(chunk, len(names), 1 << FINEST))
    return _concat(frames, list(range(len(names)))), monotonic


def _empty(columns: list[int]) -> pl.DataFrame:
    schema: dict[str, Any] = {ROW_FIRST: pl.Int64, ROW_LAST: pl.Int64}
    for i in columns:
        for stat in STATS:
            schema[_name(i, stat)] = pl.Int64 if stat.startswith("arg") else pl.Float64
    return pl.DataFrame(schema=schema)


def _concat(frames: list[pl.DataFrame], columns: list[int]) -> pl.DataFrame:
    empty = _empty(columns)
    return pl.concat([empty, *(f.select(empty.columns).cast(empty.schema) for f in frames)], how="vertical")


def _coarser(finest: pl.DataFrame, level: int, count: int) -> pl.DataFrame:
    return merge(finest, pl.col(ROW_FIRST) // (1 << level), list(range(count)))


def build_overview(source: Source) -> Overview:
    """The overview of a stored series (every numeric column), read a chunk of rows at a time."""
    lf = _scan(source)
    schema = lf.collect_schema()
    names = [name for name, dtype in schema.items() if dtype.is_numeric()]
    rows = int(lf.select(pl.len()).collect().item())
    finest, monotonic = _finest(lf, names, 0, rows, [True] * len(names))
    levels = {FINEST: finest}
    for level in level_sizes(rows)[1:]:
        levels[level] = _coarser(finest, level, len(names))
    return Overview(rows, tuple(names), tuple(str(schema[n]) for n in names), tuple(monotonic), levels)


def update_overview(previous: Overview, source: Source) -> Overview:
    """The overview of ``source``, a series whose first ``previous.rows`` rows are those ``previous``
    describes: only the buckets that the appended rows touch are recomputed. Falls back to a full
    build when the columns differ or the series is shorter."""
    lf = _scan(source)
    schema = lf.collect_schema()
    names = [name for name, dtype in schema.items() if dtype.is_numeric()]
    rows = int(lf.select(pl.len()).collect().item())
    if tuple(names) != previous.columns or rows < previous.rows or previous.rows == 0:
        return build_overview(source)
    size = 1 << FINEST
    first_touched = (previous.rows - 1) // size  # the old last bucket holds the old last row
    tail, monotonic = _finest(lf, names, first_touched * size, rows, list(previous.monotonic))
    finest = pl.concat([previous.levels[FINEST].head(first_touched), tail], how="vertical")
    levels = {FINEST: finest}
    count = len(names)
    for level in level_sizes(rows)[1:]:
        kept = previous.levels.get(level)
        keep = (previous.rows - 1) >> level if kept is not None else 0
        redo = finest.filter(pl.col(ROW_FIRST) >= keep << level)
        parts = [kept.head(keep)] if kept is not None else []
        levels[level] = pl.concat([*parts, _coarser(redo, level, count)], how="vertical")
    return Overview(rows, tuple(names), tuple(str(schema[n]) for n in names), tuple(monotonic), levels)


# -- storing ---------------------------------------------------------------------------------


def write_overview(overview: Overview, path: Path) -> None:
    """One parquet file: the levels stacked with a ``level`` column, the rest in the footer metadata."""
    frames = [f.with_columns(pl.lit(k, pl.Int8).alias("level")) for k, f in sorted(overview.levels.items())]
    meta = {
        "format": FORMAT,
        "rows": overview.rows,
        "columns": list(overview.columns),
        "dtypes": list(overview.dtypes),
        "monotonic": list(overview.monotonic),
        "levels": sorted(overview.levels),
    }
    pl.concat(frames, how="vertical").write_parquet(
        path, compression="zstd", metadata={METADATA_KEY: json.dumps(meta)}
    )


def read_overview(path: Path) -> Overview | None:
    """The overview stored at ``path``; None when it was written in another format."""
    raw = pl.read_parquet_metadata(path).get(METADATA_KEY)
    if raw is None:
        return None
    meta = json.loads(raw)
    if meta.get("format") != FORMAT:
        return None
    frame = pl.read_parquet(path)
    levels = {k: frame.filter(pl.col("level") == k).drop("level") for k in meta["levels"]}
    return Overview(
        int(meta["rows"]),
        tuple(meta["columns"]),
        tuple(meta["dtypes"]),
        tuple(bool(m) for m in meta["monotonic"]),
        levels,
    )


# -- answering windows -----------------------------------------------------------------------


def _raw(source: Source, start: int, stop: int, names: list[str]) -> pl.DataFrame:
    """Rows ``[start, stop)`` of the named columns; the slice lets the reader skip other row groups."""
    return _scan(source).slice(start, max(stop - start, 0)).select(names).collect()


def rows_of_x_window(
    overview: Overview, source: Source, x: str, start: float | None, end: float | None
) -> tuple[int, int]:
    """The rows ``[row_start, row_end)`` whose ``x`` lies in ``[start, end]``; ``x`` must not decrease."""
    i = overview.index(x)
    if not overview.monotonic[i]:
        raise OverviewError(
            f"{x!r} is not monotonic, so a window cannot be given by its values; use row_start and row_end"
        )
    finest = overview.levels[FINEST]
    size = 1 << FINEST
    row_start, row_end = 0, overview.rows
    if start is not None:
        highs = finest[_name(i, "max")].fill_null(strategy="forward").fill_null(-math.inf).to_numpy()
        bucket = int(np.searchsorted(highs, start, side="left"))
        if bucket >= len(highs):
            row_start = overview.rows
        else:
            values = _raw(source, bucket * size, (bucket + 1) * size, [x])[x].to_numpy()
            hits = np.flatnonzero(values >= start)  # NaN compares false
            row_start = bucket * size + int(hits[0]) if hits.size else (bucket + 1) * size
    if end is not None:
        lows = finest[_name(i, "min")].fill_null(strategy="backward").fill_null(math.inf).to_numpy()
        bucket = int(np.searchsorted(lows, end, side="right")) - 1
        if bucket < 0:
            row_end = 0
        else:
            values = _raw(source, bucket * size, (bucket + 1) * size, [x])[x].to_numpy()
            hits = np.flatnonzero(values <= end)
            row_end = bucket * size + int(hits[-1]) + 1 if hits.size else bucket * size
    return row_start, max(row_end, row_start)


@dataclass(frozen=True)
class Window:
    """A downsampled window: for each y column, its points' rows, x values and y values."""

    row_start: int
    row_end: int
    source: str  # "raw" or "overview"
    level: int | None
    bucket_rows: int
    exact: bool
    points: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]


def downsample(
    overview: Overview,
    source: Source,
    x: str,
    ys: list[str],
    max_points: int,
    row_start: int = 0,
    row_end: int | None = None,
) -> Window:
    """At most ``max_points`` points per y column over rows ``[row_start, row_end)``, keeping every
    bucket's first, min, max and last value (M4).

    The window is answered from raw rows when it has at most ``max_points`` rows (every row) or is
    small (exact M4 on raw rows); otherwise from the coarsest overview level whose buckets are not
    wider than needed, merged in groups. There the min/max points carry their true rows and y values
    but x is interpolated by row between the bucket's first and last x, so ``exact`` is false.
    """
    xi = overview.index(x)
    yi = [overview.index(y) for y in ys]
    if max_points < 8:
        raise OverviewError("max_points must be at least 8")
    row_end = overview.rows if row_end is None else row_end
    row_start, row_end = max(0, row_start), min(overview.rows, row_end)
    width = max(0, row_end - row_start)
    names = list(dict.fromkeys([x, *ys]))
    if width <= max_points:
        frame = _raw(source, row_start, row_end, names)
        rows = np.arange(row_start, row_start + frame.height, dtype=np.int64)
        points = {y: _keep(rows, _floats(frame[x]), frame[y]) for y in ys}
        return Window(row_start, row_end, "raw", None, 1, True, points)
    buckets = max_points // 4
    needed = math.ceil(width / (buckets - 1))  # aligned buckets of this width: at most `buckets`
    if needed < (1 << FINEST) and width <= RAW_LIMIT:
        return _raw_m4(source, x, ys, names, row_start, row_end, math.ceil(width / buckets))
    sizes = sorted(overview.levels)
    level = max([k for k in sizes if (1 << k) <= needed], default=FINEST)
    bucket_rows = (1 << level) * max(1, math.ceil(needed / (1 << level)))
    used = sorted({xi, *yi})
    pieces = _cover(overview, source, row_start, row_end, [k for k in sizes if k <= level], used)
    merged = merge(pieces, pl.col(ROW_FIRST) // bucket_rows, used)
    first, last = merged[ROW_FIRST].to_numpy(), merged[ROW_LAST].to_numpy()
    x_first, x_last = _floats(merged[_name(xi, "first")]), _floats(merged[_name(xi, "last")])
    points = {}
    for y, i in zip(ys, yi, strict=True):
        rows = np.stack(
            [first, _rows(merged[_name(i, "argmin")]), _rows(merged[_name(i, "argmax")]), last], axis=1
        )
        values = np.stack([_floats(merged[_name(i, s)]) for s in ("first", "min", "max", "last")], axis=1)
        if i == xi:
            xs = values
        else:
            span = np.maximum(last - first, 1)[:, None]
            xs = x_first[:, None] + (x_last - x_first)[:, None] * (rows - first[:, None]) / span
            xs[:, 0], xs[:, 3] = x_first, x_last
        order = np.argsort(rows.ravel(), kind="stable")
        flat_rows, flat_x, flat_y = rows.ravel()[order], xs.ravel()[order], values.ravel()[order]
        keep = flat_rows >= 0
        keep[1:] &= flat_rows[1:] != flat_rows[:-1]
        series = pl.Series(y, flat_y[keep]).cast(pl.Float64)
        if overview.dtypes[i].startswith(("Int", "UInt")):
            series = series.fill_nan(None).cast(pl.Int64, strict=False)
        points[y] = _keep(flat_rows[keep], flat_x[keep], series)
    return Window(row_start, row_end, "overview", level, bucket_rows, False, points)


def _floats(series: pl.Series) -> np.ndarray:
    return series.cast(pl.Float64).fill_null(math.nan).to_numpy()


def _rows(series: pl.Series) -> np.ndarray:
    return series.fill_null(-1).to_numpy()


def _keep(rows: np.ndarray, xs: np.ndarray, ys: pl.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points whose x and y are both known (not null, not NaN)."""
    y_missing = ys.is_null().to_numpy()
    if ys.dtype.is_float():
        y_missing |= ys.is_nan().fill_null(True).to_numpy()
    keep = ~(y_missing | np.isnan(xs))
    return rows[keep], xs[keep], ys.to_numpy()[keep]


def _raw_m4(
    source: Source, x: str, ys: list[str], names: list[str], row_start: int, row_end: int, bucket_rows: int
) -> Window:
    """Exact M4 on raw rows: buckets of ``bucket_rows`` rows from ``row_start``."""
    frame = _raw(source, row_start, row_end, names)
    offsets = pl.int_range(pl.len(), dtype=pl.Int64)
    xs_all = _floats(frame[x])
    points = {}
    for y in ys:
        value = pl.col(y).cast(pl.Float64).fill_nan(None)
        stats = (
            frame.select(offsets.alias("i"), value.alias("v"))
            .group_by(pl.col("i") // bucket_rows, maintain_order=True)
            .agg(
                pl.col("i").min().alias("first"),
                (pl.col("i").min() + pl.col("v").arg_min().cast(pl.Int64)).alias("lo"),
                (pl.col("i").min() + pl.col("v").arg_max().cast(pl.Int64)).alias("hi"),
                pl.col("i").max().alias("last"),
            )
            .drop("i")
        )
        index = stats.fill_null(-1).to_numpy().ravel()
        index = np.unique(index[index >= 0])
        points[y] = _keep(index + row_start, xs_all[index], frame[y].gather(index))
    return Window(row_start, row_end, "raw", None, bucket_rows, True, points)


def _cover(
    overview: Overview, source: Source, start: int, stop: int, levels: list[int], used: list[int]
) -> pl.DataFrame:
    """Pieces covering rows ``[start, stop)`` exactly, for the numbered columns: whole buckets of the
    given levels (coarsest first where they fit) and raw rows at the ragged ends, in row order."""
    parts: list[pl.DataFrame] = []

    def cover(lo: int, hi: int, allowed: list[int]) -> None:
        if lo >= hi:
            return
        for position, level in enumerate(reversed(allowed)):
            size = 1 << level
            first = -(-lo // size)
            # the last bucket of a level may be partial: it is whole when the window ends the series
            end = -(-hi // size) if hi == overview.rows else hi // size
            if first < end:
                finer = allowed[: len(allowed) - position - 1]
                cover(lo, first * size, finer)
                parts.append(overview.levels[level].slice(first, end - first))
                cover(min(end * size, overview.rows), hi, finer)
                return
        names = [overview.columns[i] for i in used]
        parts.append(_raw_pieces(_raw(source, lo, hi, names), lo, used))

    cover(start, stop, levels)
    return _concat(parts, used)


def _raw_pieces(frame: pl.DataFrame, offset: int, used: list[int]) -> pl.DataFrame:
    """Raw rows as one-row pieces, mergeable with buckets (``frame`` holds the used columns in order)."""
    row = pl.int_range(offset, offset + frame.height, dtype=pl.Int64)
    exprs: list[pl.Expr] = [row.alias(ROW_FIRST), row.alias(ROW_LAST)]
    for i, name in zip(used, frame.columns, strict=True):
        value = pl.col(name).cast(pl.Float64).fill_nan(None)
        at = pl.when(value.is_not_null()).then(row)
        exprs += [
            value.alias(_name(i, "first")),
            value.alias(_name(i, "last")),
            value.alias(_name(i, "min")),
            value.alias(_name(i, "max")),
            at.alias(_name(i, "argmin")),
            at.alias(_name(i, "argmax")),
        ]
    return frame.select(exprs)


def window_columns(window: Window, x: str) -> dict[str, dict[str, list[Any]]]:
    """Per y column ``{"row": [...], x: [...], y: [...]}``, JSON-ready."""
    out = {}
    for y, (rows, xs, ys) in window.points.items():
        out[y] = {"row": rows.tolist(), x: xs.tolist(), y: ys.tolist()}
        if y == x:
            out[y] = {"row": rows.tolist(), x: ys.tolist()}
    return out
