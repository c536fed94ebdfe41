"""Reading and writing the stored parquet files.

Every file is written with zstd and row groups of at most ``ROW_GROUP_SIZE`` rows,
because clients read windows of the series by HTTP range requests
(``scan_parquet(url).slice(...)``) and a row group is the smallest unit a reader can
fetch. Writes go to a temporary file beside the target and are renamed into place,
so a failure never leaves a half-written file where a reader expects a whole one.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from cellstore.processing.errors import SeriesError

#: How messages name the stored series.
SERIES = "time series"
#: A stored series as polars reads it: a local file, a URL, or several of them read as one (a
#: series stored as a base file followed by the segments that extends appended).
Source = str | Path | Sequence[str | Path]
#: Where a table is written: a file, or a buffer whose bytes the caller stores as an object.
Target = Path | io.BytesIO
ROW_GROUP_SIZE = 131_072
COMPRESSION = "zstd"
#: Longest part of a reader error repeated in a message (they can be long and technical).
MAX_REASON = 200


@contextlib.contextmanager
def reading(path: Path | str, what: str) -> Iterator[None]:
    """Turn failures to read ``path`` into a :class:`SeriesError` a person can act on.

    Polars reports a damaged file as ``ComputeError``/``OSError`` or, for some corrupt
    pages, as a Rust panic (``PanicException``, a ``BaseException``); pyarrow, which reads
    footers here, as an ``ArrowException``. All of them mean the upload is unusable, not
    that the server is broken.
    """
    name = path.name if isinstance(path, Path) else path
    try:
        yield
    except SeriesError:
        raise
    except pl.exceptions.PanicException as exc:
        reason = "its data could not be decoded (the file looks truncated or damaged)"
        raise SeriesError(f"The {what} ({name}) is not a readable parquet file: {reason}.") from exc
    except (pl.exceptions.PolarsError, pa.ArrowException, OSError) as exc:
        text = str(exc).strip()
        reason = text.splitlines()[0][:MAX_REASON] if text else type(exc).__name__
        raise SeriesError(f"The {what} ({name}) is not a readable parquet file: {reason}") from exc


def scan(path: Path, what: str) -> pl.LazyFrame:
    """Lazily open a parquet file, reading only its footer now.

    ``glob=False`` because stored paths are literal: a ``[`` in a directory name must
    not be taken for a pattern.
    """
    with reading(path, what):
        lf = pl.scan_parquet(path, glob=False)
        lf.collect_schema()
    return lf


def scan_source(source: Source) -> pl.LazyFrame:
    """Lazily open a stored series, one file or several read as one, reading no data pages now.

    Local paths are literal (``glob=False``); URLs are read by range requests, so slicing the
    frame fetches only the row groups (and files) it needs.
    """
    if isinstance(source, (str, Path)):
        return pl.scan_parquet(source, glob=False) if isinstance(source, Path) else pl.scan_parquet(source)
    parts = list(source)
    if not parts:
        raise ValueError("a series needs at least one file")
    if len(parts) == 1:
        return scan_source(parts[0])
    if all(isinstance(part, Path) for part in parts):
        return pl.scan_parquet(parts, glob=False)
    return pl.scan_parquet([str(part) for part in parts])


def write(df: pl.DataFrame, target: Target, *, statistics: bool = True) -> None:
    """Write ``df`` with the stored compression and row groups, to a file atomically or into a buffer
    (left at its start, to be read).

    A job that stores a small table as an object writes it into a buffer: polars encodes it
    there faster than into a file (by about 1 ms for the steps of a 10M-row series), and the
    file would only be copied into the object store. ``statistics`` (per-column minimum and
    maximum) let readers of a series skip row groups; see :func:`write_table`.
    """
    options = {"compression": COMPRESSION, "row_group_size": ROW_GROUP_SIZE, "statistics": statistics}
    if not isinstance(target, Path):
        df.write_parquet(target, **options)
        target.seek(0)
        return
    with atomic(target) as tmp:
        df.write_parquet(tmp, **options)


def write_table(df: pl.DataFrame, target: Target) -> None:
    """Write a derived table (steps, cycles, a series' tail): as :func:`write`, without statistics.

    These tables are read whole, in one row group, so statistics would tell no reader anything;
    writing them costs about a millisecond of every extend."""
    write(df, target, statistics=False)


def sink(lf: pl.LazyFrame, path: Path) -> None:
    """Stream ``lf`` to ``path`` atomically, in row order, without collecting it."""
    with atomic(path) as tmp:
        lf.sink_parquet(tmp, compression=COMPRESSION, row_group_size=ROW_GROUP_SIZE, maintain_order=True)


def row_count(path: Path, what: str) -> int:
    """Rows in a parquet file (from its metadata; no data pages are read)."""
    with reading(path, what):
        return pl.scan_parquet(path, glob=False).select(pl.len()).collect().item()


def source_rows(source: Source, scan: pl.LazyFrame) -> int:
    """Rows in a stored series (``scan`` is a scan of it): from the footers of local files,
    which is cheaper than counting through the scan, as one must for URLs."""
    paths = [source] if isinstance(source, (str, Path)) else list(source)
    if all(isinstance(path, Path) for path in paths):
        return sum(footer_rows(path) for path in paths)
    return scan.select(pl.len()).collect().item()


def footer_rows(path: Path) -> int:
    """Rows in a local parquet file, from its footer alone (cheaper than a scan)."""
    return footer(path).num_rows


def footer(path: Path) -> pq.FileMetaData:
    """The footer of a local parquet file: rows, row groups, how they were written."""
    return pq.read_metadata(path)


def written_as_stored(metadata: pq.FileMetaData) -> bool:
    """Whether a file was written as cellstore writes its series: by polars, with zstd and row groups
    of at most ``ROW_GROUP_SIZE`` rows. Such a file can be stored as it is (its columns checked),
    and the byte-level join of a series' parts (:mod:`~cellstore.processing.parquet_append`) can
    copy its row groups."""
    if not (metadata.created_by or "").startswith("Polars"):
        return False
    for index in range(metadata.num_row_groups):
        group = metadata.row_group(index)
        if group.num_rows > ROW_GROUP_SIZE:
            return False
        if any(group.column(i).compression != "ZSTD" for i in range(group.num_columns)):
            return False
    return True


@contextlib.contextmanager
def atomic(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed onto it if the block succeeds, removed otherwise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
