"""A version of a time series stored in parts: a base file followed by the segments extends appended.

An extend stores only the rows it appends (``v{N}/segment.parquet``), so its cost does
not grow with the series. Version N's series is then the base (version 0's upload, or
the last version written as one file) followed by the segments of the versions after
it, in order; ``v{N}/series.json``, the manifest, lists them. The manifest is stored
last, after the segment, steps and cycles, and the measurement's
``data_version`` moves to N only after that, so a reader never sees a version before
it is complete and a crashed extend leaves the previous version as it was.

Each extend is followed by a background job that stores the version's overview for
``/series``, updated from the newest earlier one (which is kept until then; ``/series``
before it does the same on the spot). Once the segments are worth it (:func:`worth_joining`)
the same job also writes the version's series as one file (``v{N}/time_series.parquet``, a
byte-level append of the parts), which the next extend then starts from. Readers that need
one file (the download redirect, whose URL clients read by range requests as one parquet
file, and exports) compact on the spot when it is not there yet, and keep the result.
"""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from cellstore.measurements import keys
from cellstore.processing import parquet
from cellstore.processing.pipeline import join_parquet
from cellstore.storage.base import ObjectStore
from cellstore.storage.local import LocalObjectStore

FORMAT = 1
#: The background job writes a version as one file only once its segments hold this share of its
#: rows, or there are this many of them. Joining copies the whole series, so doing it after every
#: small extend would cost each one about three times the processing of the whole series; the
#: count bounds the files a read of the version opens.
JOIN_SHARE = 1 / 8
MAX_SEGMENTS = 32


@dataclass(frozen=True)
class Part:
    """One stored object of a series and how many rows it holds."""

    key: str
    rows: int


@dataclass(frozen=True)
class Manifest:
    """The objects whose rows, read in order, are one version's series."""

    version: int
    parts: tuple[Part, ...]

    @property
    def rows(self) -> int:
        return sum(part.rows for part in self.parts)

    def to_json(self) -> bytes:
        parts = [{"key": part.key, "rows": part.rows} for part in self.parts]
        return json.dumps({"format": FORMAT, "version": self.version, "parts": parts}).encode()


def worth_joining(manifest: Manifest) -> bool:
    """Whether a version stored in parts should now be written as one file (:data:`JOIN_SHARE`)."""
    added = manifest.parts[1:]
    return len(added) >= MAX_SEGMENTS or sum(part.rows for part in added) >= JOIN_SHARE * manifest.rows


def read_manifest(store: ObjectStore, org: str, mid: str, version: int) -> Manifest | None:
    """The manifest of ``version``; None when it has none (version 0, a version written whole
    before segments existed, or one whose extend has not completed)."""
    try:
        with store.reading(keys.manifest_key(org, mid, version)) as path:
            raw = json.loads(Path(path).read_bytes())
    except FileNotFoundError:
        return None
    if raw.get("format") != FORMAT:
        raise ValueError(f"manifest of measurement {mid} version {version} has an unknown format")
    parts = tuple(Part(str(part["key"]), int(part["rows"])) for part in raw["parts"])
    return Manifest(int(raw["version"]), parts)


def write_manifest(store: ObjectStore, org: str, mid: str, manifest: Manifest) -> None:
    """Store the manifest: the last object an extend writes, which completes the version."""
    store.put_bytes(keys.manifest_key(org, mid, manifest.version), manifest.to_json())


def parts_of(store: ObjectStore, org: str, mid: str, version: int) -> list[str]:
    """The keys whose rows, in order, are ``version``'s series: its one file when it has one.

    Raises FileNotFoundError when the version has neither (deleted, or not complete yet).
    """
    whole = keys.series_key(org, mid, version)
    if version == 0 or store.size(whole) is not None:
        return [whole]
    manifest = read_manifest(store, org, mid, version)
    if manifest is None:
        raise FileNotFoundError(f"No series stored for measurement {mid} version {version}")
    return [part.key for part in manifest.parts]


def base_of_next(store: ObjectStore, org: str, mid: str, version: int) -> tuple[list[str], Manifest | None]:
    """What the version after ``version`` starts with: ``version``'s one file when it has one
    (then its row count is not known here), else the parts its manifest lists."""
    whole = keys.series_key(org, mid, version)
    if version > 0 and store.size(whole) is None:
        manifest = read_manifest(store, org, mid, version)
        if manifest is not None:
            return [part.key for part in manifest.parts], manifest
    return [whole], None


def source(store: ObjectStore, key: str) -> parquet.Source:
    """What polars scans to read parts of a stored object: the file itself on local storage, a
    signed URL elsewhere (polars then fetches only the row groups it needs by range requests)."""
    if isinstance(store, LocalObjectStore):
        path = store.object_path(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        return path
    return store.download_url(key, "")


def sources(store: ObjectStore, object_keys: list[str]) -> list[str | Path]:
    """:func:`source` of each key, to be scanned as one series."""
    return [source(store, key) for key in object_keys]  # type: ignore[misc]


# -- compaction ------------------------------------------------------------------------------------

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock(key: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def compact(store: ObjectStore, org: str, mid: str, version: int) -> str:
    """Store ``version``'s series as one file, if it is not yet; answers that file's key.

    Idempotent, and safe to run concurrently (the store replaces objects atomically, and
    within a process one caller does the work while the others wait for it).
    """
    whole = keys.series_key(org, mid, version)
    if version == 0 or store.size(whole) is not None:
        return whole
    with _lock(whole):
        if store.size(whole) is not None:
            return whole
        manifest = read_manifest(store, org, mid, version)
        if manifest is None:
            raise FileNotFoundError(f"No manifest for measurement {mid} version {version}")
        with ExitStack() as stack:
            paths = [stack.enter_context(store.reading(part.key)) for part in manifest.parts]
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cellstore-compact-")))
            out = tmp / keys.TIME_SERIES_FILE
            rows = join_parquet(paths, out)
            if rows != manifest.rows:
                raise RuntimeError(
                    f"compacting {mid} version {version}: {rows} rows, manifest says {manifest.rows}"
                )
            store.put_file(whole, out)
    with _locks_guard:
        _locks.pop(whole, None)
    return whole


# -- clean-up --------------------------------------------------------------------------------------


def forget_before(store: ObjectStore, org: str, mid: str, version: int) -> None:
    """Once ``version`` is live, delete the objects of earlier versions it does not read.

    Everything of older versions goes (left-overs of crashed runs too), except the base and
    segments that ``version``'s manifest lists and, until ``version`` has an overview of its own,
    the newest earlier overview (the compaction job builds ``version``'s from it); so does the
    upload of the delta.
    """
    manifest = read_manifest(store, org, mid, version) if version > 0 else None
    keep = {part.key for part in manifest.parts} if manifest is not None else set()
    uploads = {
        keys.series_key(org, mid, 0),
        keys.upload_key(org, mid, keys.STEPS_FILE),
        keys.upload_key(org, mid, keys.EXTEND_FILE),
    }
    existing = list(store.list(keys.measurement_prefix(org, mid)))
    newest = _newest_overview(existing, org, mid, version)
    if newest is not None and keys.overview_key(org, mid, version) not in existing:
        keep.add(newest)
    for key in existing:
        if key in keep:
            continue
        of = keys.version_of(key, org, mid)
        if key in uploads or (of is not None and of < version):
            store.delete(key)


def newest_overview_before(store: ObjectStore, org: str, mid: str, version: int) -> str | None:
    """The key of the newest overview stored for a version before ``version``, if any."""
    return _newest_overview(store.list(keys.measurement_prefix(org, mid)), org, mid, version)


def _newest_overview(stored: Iterable[str], org: str, mid: str, version: int) -> str | None:
    newest: tuple[int, str] | None = None
    for key in stored:
        of = keys.version_of(key, org, mid)
        if of is None or of >= version or key != keys.overview_key(org, mid, of):
            continue
        if newest is None or of > newest[0]:
            newest = (of, key)
    return newest[1] if newest else None
