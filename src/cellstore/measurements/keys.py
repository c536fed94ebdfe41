"""Where a measurement's objects live in the store.

``orgs/{org}/measurements/{id}/`` holds everything of one measurement, so that
deleting it is deleting one prefix. Version 0 of a time series is the object
the client uploaded; each extend writes the next version beside it: the appended
rows as ``v{N}/segment.parquet``, its steps and cycles, the rows the next extend
continues from (``v{N}/tail.parquet``; version 0's too), and last
``v{N}/series.json``, the list of objects that read in order make the series
(:mod:`~cellstore.measurements.segments`). A compaction job later writes the
version's series as one file, ``v{N}/time_series.parquet``, and the overview that
``/series`` answers from, ``v{N}/overview.parquet``.
"""

from __future__ import annotations

TIME_SERIES_FILE = "time_series.parquet"
STEPS_FILE = "steps.parquet"
CYCLES_FILE = "cycles.parquet"
EXTEND_FILE = "time_series_extend.parquet"
SEGMENT_FILE = "segment.parquet"
MANIFEST_FILE = "series.json"
OVERVIEW_FILE = "overview.parquet"
#: The version's last rows (from the one before its last step), which the next extend continues.
TAIL_FILE = "tail.parquet"


def measurement_prefix(organization_id: str, measurement_id: str) -> str:
    return f"orgs/{organization_id}/measurements/{measurement_id}/"


def upload_key(organization_id: str, measurement_id: str, filename: str) -> str:
    """Where the client's PUT of ``filename`` lands."""
    return f"{measurement_prefix(organization_id, measurement_id)}upload/{filename}"


def series_key(organization_id: str, measurement_id: str, version: int) -> str:
    """The series of ``version`` as one file (after an extend, once compacted)."""
    if version == 0:
        return upload_key(organization_id, measurement_id, TIME_SERIES_FILE)
    return f"{measurement_prefix(organization_id, measurement_id)}v{version}/{TIME_SERIES_FILE}"


def derived_key(organization_id: str, measurement_id: str, version: int, filename: str) -> str:
    """Steps and cycles computed for one version of the series."""
    return f"{measurement_prefix(organization_id, measurement_id)}v{version}/{filename}"


def segment_key(organization_id: str, measurement_id: str, version: int) -> str:
    """The rows an extend appended to make ``version``."""
    return derived_key(organization_id, measurement_id, version, SEGMENT_FILE)


def manifest_key(organization_id: str, measurement_id: str, version: int) -> str:
    """The objects that make up ``version``'s series, written last: the version is complete once it exists."""
    return derived_key(organization_id, measurement_id, version, MANIFEST_FILE)


def overview_key(organization_id: str, measurement_id: str, version: int) -> str:
    """The multi-resolution overview of ``version``'s series (:mod:`~cellstore.processing.overview`)."""
    return derived_key(organization_id, measurement_id, version, OVERVIEW_FILE)


def version_of(measurement_key: str, organization_id: str, measurement_id: str) -> int | None:
    """N of a key ``.../v{N}/...`` of the measurement; None for its other keys (the uploads)."""
    relative = measurement_key.removeprefix(measurement_prefix(organization_id, measurement_id))
    head, _, rest = relative.partition("/")
    if rest and head.startswith("v") and head[1:].isdigit():
        return int(head[1:])
    return None


def version_prefix(organization_id: str, measurement_id: str, version: int) -> str:
    return f"{measurement_prefix(organization_id, measurement_id)}v{version}/"


def file_key(organization_id: str, measurement_id: str, filename: str) -> str:
    return f"{measurement_prefix(organization_id, measurement_id)}files/{filename}"
