"""Where a measurement's objects live in the store.

``orgs/{org}/measurements/{id}/`` holds everything of one measurement, so that
deleting it is deleting one prefix. Version 0 of a time series is the object
the client uploaded; each extend writes the next version beside it.
"""

from __future__ import annotations

TIME_SERIES_FILE = "time_series.parquet"
STEPS_FILE = "steps.parquet"
CYCLES_FILE = "cycles.parquet"
EXTEND_FILE = "time_series_extend.parquet"


def measurement_prefix(organization_id: str, measurement_id: str) -> str:
    return f"orgs/{organization_id}/measurements/{measurement_id}/"


def upload_key(organization_id: str, measurement_id: str, filename: str) -> str:
    """Where the client's PUT of ``filename`` lands."""
    return f"{measurement_prefix(organization_id, measurement_id)}upload/{filename}"


def series_key(organization_id: str, measurement_id: str, version: int) -> str:
    if version == 0:
        return upload_key(organization_id, measurement_id, TIME_SERIES_FILE)
    return f"{measurement_prefix(organization_id, measurement_id)}v{version}/{TIME_SERIES_FILE}"


def derived_key(organization_id: str, measurement_id: str, version: int, filename: str) -> str:
    """Steps and cycles computed for one version of the series."""
    return f"{measurement_prefix(organization_id, measurement_id)}v{version}/{filename}"


def version_prefix(organization_id: str, measurement_id: str, version: int) -> str:
    return f"{measurement_prefix(organization_id, measurement_id)}v{version}/"


def file_key(organization_id: str, measurement_id: str, filename: str) -> str:
    return f"{measurement_prefix(organization_id, measurement_id)}files/{filename}"
