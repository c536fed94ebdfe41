"""Extends stored as segments: the job's objects, reads of a version in parts, compaction, clean-up.

These run the worker's functions on a local object store, in process, so that a test can stop
between them (a crash before the manifest) and look at every object. The live-server side, with
the real client on both deployments, is ``test_extend_segments``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cellstore.measurements import analysis, data, keys, segments, tasks
from cellstore.processing import overview as ov
from cellstore.processing import parquet, stream
from cellstore.processing.errors import SeriesError
from cellstore.processing.pipeline import process_series
from cellstore.processing.steps import used_columns
from cellstore.storage.local import LocalObjectStore
from tests.measurements.conftest import cycling

ORG, MID = "org", "m"
CAPACITY = {"value": 5, "unit": "A.h"}
ROWS_PER_STEP = 1_000
#: The real builder, for the expected overviews of tests that forbid the code under test to use it.
BUILD_OVERVIEW = ov.build_overview


class Measurement:
    """What the data readers need of a measurement row."""

    def __init__(self, version: int) -> None:
        self.organization_id, self.id, self.data_version = ORG, MID, version
        self.measurement_type, self.row_count, self.start_time = "time_series", 1, None


@pytest.fixture(autouse=True)
def fresh_overview_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test's store uses the same keys; the process-wide cache of overviews must not carry
    one test's over to the next."""
    monkeypatch.setattr(analysis, "_cache", analysis._Cache(analysis.CACHE_BYTES))


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    """Version 0 of a series processed: 5,500 rows, the last step still open."""
    store = LocalObjectStore(tmp_path / "objects", b"s" * 32)
    upload = tmp_path / "upload.parquet"
    cycling(0, 5_500, ROWS_PER_STEP).write_parquet(upload, row_group_size=1_000)
    store.put_file(keys.series_key(ORG, MID, 0), upload)
    tasks._process_upload(store, ORG, MID, CAPACITY)
    return store


def extend(store: LocalObjectStore, tmp_path: Path, version: int, start: int, stop: int) -> int:
    delta = tmp_path / f"delta{version}.parquet"
    cycling(start, stop, ROWS_PER_STEP, seed=version).write_parquet(delta)
    store.put_file(keys.upload_key(ORG, MID, keys.EXTEND_FILE), delta)
    return tasks._stitch(store, ORG, MID, version, CAPACITY)


def expected(*bounds: int) -> pl.DataFrame:
    """The series made of version 0 and the deltas of ``extend`` ending at ``bounds``."""
    frames, start = [cycling(0, 5_500, ROWS_PER_STEP)], 5_500
    for version, stop in enumerate(bounds, start=1):
        frames.append(cycling(start, stop, ROWS_PER_STEP, seed=version))
        start = stop
    return pl.concat(frames)


def version_keys(store: LocalObjectStore, version: int) -> list[str]:
    prefix = keys.version_prefix(ORG, MID, version)
    return [key[len(prefix) :] for key in store.list(prefix)]


def read_version(store: LocalObjectStore, version: int) -> pl.DataFrame:
    return parquet.scan_source(segments.sources(store, segments.parts_of(store, ORG, MID, version))).collect()


def derived(store: LocalObjectStore, version: int, filename: str) -> pl.DataFrame:
    with store.reading(keys.derived_key(ORG, MID, version, filename)) as path:
        return pl.read_parquet(path)


def assert_derived_as_whole(
    store: LocalObjectStore, tmp_path: Path, version: int, whole: pl.DataFrame
) -> None:
    """The version's steps and cycles are those of processing its whole series."""
    path = tmp_path / f"whole{version}.parquet"
    whole.write_parquet(path)
    steps, cycles = tmp_path / f"steps{version}.parquet", tmp_path / f"cycles{version}.parquet"
    process_series(path, steps, cycles, rated_capacity_ah=5.0)
    assert_frame_equal(derived(store, version, keys.STEPS_FILE), pl.read_parquet(steps), rel_tol=1e-12)
    assert_frame_equal(derived(store, version, keys.CYCLES_FILE), pl.read_parquet(cycles), rel_tol=1e-12)


def assert_overview_as_whole(overview: ov.Overview | None, whole: pl.DataFrame, tmp_path: Path) -> None:
    """``overview`` is the one built from the whole series."""
    assert overview is not None and overview.rows == whole.height
    path = tmp_path / "whole-for-overview.parquet"
    whole.write_parquet(path)
    for level, frame in BUILD_OVERVIEW(path).levels.items():
        assert overview.levels[level].equals(frame)


def stored_overview(store: LocalObjectStore, version: int) -> ov.Overview | None:
    with store.reading(keys.overview_key(ORG, MID, version)) as path:
        return ov.read_overview(path)


def test_an_extend_stores_only_the_segment_until_compaction(store: LocalObjectStore, tmp_path: Path) -> None:
    upload = store.object_path(keys.series_key(ORG, MID, 0))
    before = (upload.stat().st_mtime_ns, upload.stat().st_size)
    assert extend(store, tmp_path, 1, 5_500, 8_000) == 8_000
    assert version_keys(store, 1) == sorted(
        [keys.CYCLES_FILE, keys.MANIFEST_FILE, keys.SEGMENT_FILE, keys.STEPS_FILE, keys.TAIL_FILE]
    )
    assert (upload.stat().st_mtime_ns, upload.stat().st_size) == before  # read, not rewritten
    with store.reading(keys.segment_key(ORG, MID, 1)) as segment:
        assert_frame_equal(pl.read_parquet(segment), expected(8_000).slice(5_500))
    manifest = segments.read_manifest(store, ORG, MID, 1)
    assert manifest is not None and manifest.rows == 8_000
    assert [(p.key, p.rows) for p in manifest.parts] == [
        (keys.series_key(ORG, MID, 0), 5_500),
        (keys.segment_key(ORG, MID, 1), 2_500),
    ]
    assert_frame_equal(read_version(store, 1), expected(8_000))
    assert_derived_as_whole(store, tmp_path, 1, expected(8_000))


def test_an_extend_continues_from_the_stored_tail_without_reading_the_series(
    store: LocalObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each version keeps its rows from the one before its last step, which the next extend
    continues; without them (or with a damaged copy) the extend reads the series instead."""
    series = expected()
    start = stream.tail_start(derived(store, 0, keys.STEPS_FILE))
    assert_frame_equal(derived(store, 0, keys.TAIL_FILE), series[used_columns(series.schema)].slice(start))
    with monkeypatch.context() as patched:
        patched.setattr(stream, "read_batches", lambda *a, **k: pytest.fail("read the series"))
        extend(store, tmp_path, 1, 5_500, 8_000)
        extend(store, tmp_path, 2, 8_000, 9_000)
    assert_derived_as_whole(store, tmp_path, 2, expected(8_000, 9_000))
    store.delete(keys.derived_key(ORG, MID, 2, keys.TAIL_FILE))
    extend(store, tmp_path, 3, 9_000, 9_500)
    assert_derived_as_whole(store, tmp_path, 3, expected(8_000, 9_000, 9_500))
    store.put_bytes(keys.derived_key(ORG, MID, 3, keys.TAIL_FILE), b"not parquet")
    extend(store, tmp_path, 4, 9_500, 12_000)
    assert_derived_as_whole(store, tmp_path, 4, expected(8_000, 9_000, 9_500, 12_000))


def test_an_extend_after_an_extend_counts_the_series_from_the_manifest(
    store: LocalObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parts' rows are in the previous version's manifest, so their footers are not read
    again: segments waiting for the join cost a later extend nothing."""
    extend(store, tmp_path, 1, 5_500, 8_000)
    monkeypatch.setattr(parquet, "source_rows", lambda *a: pytest.fail("counted the stored rows"))
    assert extend(store, tmp_path, 2, 8_000, 9_000) == 9_000
    assert_derived_as_whole(store, tmp_path, 2, expected(8_000, 9_000))


def test_reads_before_and_after_compaction_are_identical(store: LocalObjectStore, tmp_path: Path) -> None:
    extend(store, tmp_path, 1, 5_500, 8_000)
    measurement = Measurement(1)
    source = analysis.version_source(store, measurement)
    assert isinstance(source, list) and len(source) == 2  # base and segment, not compacted yet
    windows = [(5_400, 5_600), (0, 8_000), (5_499, 5_501), (7_000, 8_000)]
    before = [parquet.scan_source(source).slice(a, b - a).collect() for a, b in windows]
    overview = analysis.load_overview(store, measurement)
    query = analysis.SeriesQuery(
        x="Time [s]", y=["Voltage [V]"], max_points=50, row_start=5_000, row_end=6_000
    )
    series_before = analysis.series_window(overview, source, query)

    whole = segments.compact(store, ORG, MID, 1)
    assert whole == keys.series_key(ORG, MID, 1)
    with store.reading(whole) as path:
        assert_frame_equal(pl.read_parquet(path), expected(8_000))
        assert parquet.row_count(path, "series") == 8_000
    after = analysis.version_source(store, measurement)
    assert after == [store.object_path(whole)]
    for (a, b), frame in zip(windows, before, strict=True):
        assert_frame_equal(parquet.scan_source(after).slice(a, b - a).collect(), frame)
        assert_frame_equal(frame, expected(8_000).slice(a, b - a))
    assert analysis.series_window(overview, after, query) == series_before


def test_series_before_the_compaction_job_updates_the_previous_overview(
    store: LocalObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The extend leaves the overview to the compaction job; ``/series`` coming first makes it from
    version 0's and the appended rows, and stores it."""
    extend(store, tmp_path, 1, 5_500, 8_000)
    segments.forget_before(store, ORG, MID, 1)
    assert store.size(keys.overview_key(ORG, MID, 1)) is None
    assert store.size(keys.overview_key(ORG, MID, 0)) is not None  # kept to update from
    monkeypatch.setattr(ov, "build_overview", lambda source: pytest.fail("rebuilt instead of updated"))
    assert_overview_as_whole(analysis.load_overview(store, Measurement(1)), expected(8_000), tmp_path)
    assert_overview_as_whole(stored_overview(store, 1), expected(8_000), tmp_path)


def test_the_compaction_job_stores_the_overview_and_drops_the_older_one(
    store: LocalObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extend(store, tmp_path, 1, 5_500, 8_000)
    segments.forget_before(store, ORG, MID, 1)
    monkeypatch.setattr(ov, "build_overview", lambda source: pytest.fail("rebuilt instead of updated"))
    tasks._compact(store, ORG, MID, 1)
    assert_overview_as_whole(stored_overview(store, 1), expected(8_000), tmp_path)
    with store.reading(keys.series_key(ORG, MID, 1)) as path:
        assert_frame_equal(pl.read_parquet(path), expected(8_000))
    assert store.size(keys.overview_key(ORG, MID, 0)) is None
    tasks._compact(store, ORG, MID, 1)  # run again: the same end state
    assert_overview_as_whole(stored_overview(store, 1), expected(8_000), tmp_path)


def test_compaction_is_idempotent(store: LocalObjectStore, tmp_path: Path) -> None:
    extend(store, tmp_path, 1, 5_500, 8_000)
    key = segments.compact(store, ORG, MID, 1)
    path = store.object_path(key)
    stamp = path.stat().st_mtime_ns
    assert segments.compact(store, ORG, MID, 1) == key
    assert path.stat().st_mtime_ns == stamp  # not written again
    assert segments.compact(store, ORG, MID, 0) == keys.series_key(ORG, MID, 0)
    path.unlink()  # e.g. a compaction that never finished: it is simply done again
    assert segments.compact(store, ORG, MID, 1) == key
    with store.reading(key) as again:
        assert_frame_equal(pl.read_parquet(again), expected(8_000))


def test_a_reader_before_the_compaction_job_compacts_once(store: LocalObjectStore, tmp_path: Path) -> None:
    extend(store, tmp_path, 1, 5_500, 8_000)
    url = asyncio.run(data.series_url(store, Measurement(1), "http://testserver"))  # type: ignore[arg-type]
    assert keys.series_key(ORG, MID, 1) in url
    assert store.size(keys.series_key(ORG, MID, 1)) is not None


@pytest.mark.parametrize("compact_between", [False, True])
def test_second_and_third_extends_chain_segments(
    store: LocalObjectStore, tmp_path: Path, compact_between: bool
) -> None:
    bounds = [8_000, 8_001, 10_300]
    for version, stop in enumerate(bounds, start=1):
        start = 5_500 if version == 1 else bounds[version - 2]
        if compact_between and version > 1:
            segments.compact(store, ORG, MID, version - 1)
        assert extend(store, tmp_path, version, start, stop) == stop
        segments.forget_before(store, ORG, MID, version)
        whole = expected(*bounds[:version])
        assert_frame_equal(read_version(store, version), whole)
        assert_derived_as_whole(store, tmp_path, version, whole)
    manifest = segments.read_manifest(store, ORG, MID, 3)
    assert manifest is not None
    if compact_between:  # each extend starts from the previous version's one file
        assert [p.key for p in manifest.parts] == [
            keys.series_key(ORG, MID, 2),
            keys.segment_key(ORG, MID, 3),
        ]
    else:
        assert [p.key for p in manifest.parts] == [
            keys.series_key(ORG, MID, 0),
            *(keys.segment_key(ORG, MID, v) for v in (1, 2, 3)),
        ]
    # What is left is version 3, exactly what it reads, and version 0's overview: no compaction
    # job ran, so it is the newest, from which version 3's will be made.
    left = set(store.list(keys.measurement_prefix(ORG, MID)))
    assert {p.key for p in manifest.parts} <= left
    assert {key for key in left if not key.startswith(keys.version_prefix(ORG, MID, 3))} == {
        p.key for p in manifest.parts
    } - {keys.segment_key(ORG, MID, 3)} | {keys.overview_key(ORG, MID, 0)}
    tasks._compact(store, ORG, MID, 3)
    with store.reading(keys.series_key(ORG, MID, 3)) as path:
        assert_frame_equal(pl.read_parquet(path), expected(*bounds))
    assert_overview_as_whole(stored_overview(store, 3), expected(*bounds), tmp_path)
    assert store.size(keys.overview_key(ORG, MID, 0)) is None


def test_a_crash_before_the_manifest_leaves_the_previous_version_and_a_rerun_completes(
    store: LocalObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extend(store, tmp_path, 1, 5_500, 8_000)
    segments.forget_before(store, ORG, MID, 1)
    steps_v1 = derived(store, 1, keys.STEPS_FILE)

    def crash(*args: object) -> None:
        raise RuntimeError("worker died")

    monkeypatch.setattr(segments, "write_manifest", crash)
    with pytest.raises(RuntimeError, match="worker died"):
        extend(store, tmp_path, 2, 8_000, 9_500)
    assert keys.SEGMENT_FILE in version_keys(store, 2)  # stored before the crash ...
    assert keys.MANIFEST_FILE not in version_keys(store, 2)  # ... but the version is not complete
    with pytest.raises(FileNotFoundError):
        segments.parts_of(store, ORG, MID, 2)
    # Version 1, still the measurement's, reads as before.
    assert_frame_equal(read_version(store, 1), expected(8_000))
    assert_frame_equal(derived(store, 1, keys.STEPS_FILE), steps_v1)

    monkeypatch.undo()
    assert extend(store, tmp_path, 2, 8_000, 9_500) == 9_500  # the job run again
    assert_frame_equal(read_version(store, 2), expected(8_000, 9_500))
    assert_derived_as_whole(store, tmp_path, 2, expected(8_000, 9_500))


def test_an_extension_that_does_not_continue_the_series_stores_nothing_readable(
    store: LocalObjectStore, tmp_path: Path
) -> None:
    delta = tmp_path / "bad.parquet"
    cycling(0, 100, ROWS_PER_STEP).write_parquet(delta)  # starts again at step 0 and time 0
    store.put_file(keys.upload_key(ORG, MID, keys.EXTEND_FILE), delta)
    with pytest.raises(SeriesError):
        tasks._stitch(store, ORG, MID, 1, CAPACITY)
    assert keys.MANIFEST_FILE not in version_keys(store, 1)
    assert_frame_equal(read_version(store, 0), expected())


def test_segments_are_joined_once_they_hold_a_share_of_the_rows_or_are_many() -> None:
    def manifest(base: int, *added: int) -> segments.Manifest:
        parts = [segments.Part("base", base), *(segments.Part(f"s{i}", rows) for i, rows in enumerate(added))]
        return segments.Manifest(len(added), tuple(parts))

    assert not segments.worth_joining(manifest(10_000_000, 10_000))
    assert not segments.worth_joining(manifest(10_000_000, *[10_000] * (segments.MAX_SEGMENTS - 1)))
    assert segments.worth_joining(manifest(10_000_000, *[10_000] * segments.MAX_SEGMENTS))
    assert segments.worth_joining(manifest(7_000, 1_000))  # 1/8 of all rows
    assert not segments.worth_joining(manifest(7_001, 999))


def test_small_extends_keep_their_segments_and_still_read_as_one_file_on_demand(
    store: LocalObjectStore, tmp_path: Path
) -> None:
    """After an extend too small to be worth a copy of the series, the background job stores the
    overview only; the next extend appends to the parts, and a download compacts on the spot."""
    bounds = [5_600, 5_700]
    for version, stop in enumerate(bounds, start=1):
        extend(store, tmp_path, version, 5_500 if version == 1 else bounds[version - 2], stop)
        tasks._compact(store, ORG, MID, version)
        assert store.size(keys.series_key(ORG, MID, version)) is None  # not joined
        assert_overview_as_whole(stored_overview(store, version), expected(*bounds[:version]), tmp_path)
    manifest = segments.read_manifest(store, ORG, MID, 2)
    assert manifest is not None
    assert [p.key for p in manifest.parts] == [
        keys.series_key(ORG, MID, 0),
        keys.segment_key(ORG, MID, 1),
        keys.segment_key(ORG, MID, 2),
    ]
    assert_frame_equal(read_version(store, 2), expected(*bounds))
    assert_derived_as_whole(store, tmp_path, 2, expected(*bounds))
    url = asyncio.run(data.series_url(store, Measurement(2), "http://testserver"))  # type: ignore[arg-type]
    assert keys.series_key(ORG, MID, 2) in url
    with store.reading(keys.series_key(ORG, MID, 2)) as path:
        assert_frame_equal(pl.read_parquet(path), expected(*bounds))
