"""Housekeeping: uploads initiated but never confirmed are forgotten, with their objects."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from cellstore.core.database import utcnow
from cellstore.jobs.models import Job
from cellstore.jobs.objects import DELETE_OBJECTS
from cellstore.measurements import keys
from cellstore.measurements.cleanup import sweep_abandoned_uploads
from cellstore.measurements.models import UploadReservation
from cellstore.raw_data.models import RawData
from tests.support import Api, LiveServer, Tenant


def _instance(api: Api, tenant: Tenant) -> str:
    spec = api.post("/cell_specifications", json={"name": "Swept", "project_id": tenant.project_id}).json()
    return api.post(f"/cell_specifications/{spec['id']}/cell_instances", json={"name": "C"}).json()["id"]


def test_old_unconfirmed_uploads_are_swept_and_recent_ones_kept(
    server: LiveServer, api: Api, tenant: Tenant
) -> None:
    instance = _instance(api, tenant)
    fresh = api.post(
        f"/cell_instances/{instance}/cell_measurements/initiate-upload",
        json={"measurement": {"name": "fresh"}},
    ).json()["measurement_id"]
    stale = api.post(
        f"/cell_instances/{instance}/cell_measurements/initiate-upload",
        json={"measurement": {"name": "stale"}},
    ).json()["measurement_id"]
    stale_raw = api.post(
        "/raw_data/initiate-upload",
        json={"project_id": tenant.project_id, "name": "raw", "filename": "run.csv"},
    ).json()["raw_data_id"]

    async def age(session):  # type: ignore[no-untyped-def]
        long_ago = utcnow() - timedelta(hours=server.settings.abandoned_upload_hours + 1)
        (await session.get(UploadReservation, stale)).created_at = long_ago
        (await session.get(RawData, stale_raw)).created_at = long_ago

    server.run(age)
    # The server's own worker may sweep in between (it does every few minutes); either way the
    # outcome below is the sweep's.
    server.run(lambda session: sweep_abandoned_uploads(session, server.settings))

    async def state(session):  # type: ignore[no-untyped-def]
        reservations = set(await session.scalars(select(UploadReservation.id)))
        raw = await session.get(RawData, stale_raw)
        jobs = (await session.scalars(select(Job).where(Job.kind == DELETE_OBJECTS))).all()
        return reservations, raw, [prefix for job in jobs for prefix in job.payload["prefixes"]]

    reservations, raw, prefixes = server.run(state)
    assert fresh in reservations and stale not in reservations
    assert raw is None
    assert keys.measurement_prefix(tenant.organization_id, stale) in prefixes
    assert f"orgs/{tenant.organization_id}/raw_data/{stale_raw}/" in prefixes
    assert keys.measurement_prefix(tenant.organization_id, fresh) not in prefixes
    # The stale upload can no longer be confirmed; the fresh one still can be tried.
    confirm = api.post(
        f"/cell_measurements/{stale}/confirm-upload",
        json={"cell_instance_id": instance, "measurement": {"name": "stale"}},
    )
    assert confirm.status_code == 404
