"""Cell batches (manufacturing lots) through the real ionworks client and plain HTTP."""

from __future__ import annotations

import uuid

import pytest
from ionworks import Ionworks
from ionworks.errors import IonworksError

from tests.support import Api, LiveServer, Tenant, assert_error


def _spec(client, name: str = "NMC 21700") -> str:
    return client.cell_spec.create({"name": name, "form_factor": "21700"}).id


def test_create_get_and_list(client: Ionworks) -> None:
    spec_id = _spec(client)
    batch = client.cell_batch.create(
        spec_id,
        {
            "name": "LOT-2025-Q1",
            "notes": "first production run",
            "date_manufactured": "2025-01-15",
            "properties": {"capacity": {"value": 5.02, "unit": "A.h"}, "line": "B2"},
        },
    )
    assert batch.cell_specification_id == spec_id
    assert batch.project_id == client.project_id
    assert batch.instance_count == 0
    fetched = client.cell_batch.get(batch.id)
    assert fetched.name == "LOT-2025-Q1"
    assert fetched.notes == "first production run"
    assert fetched.date_manufactured == "2025-01-15"
    assert fetched.properties == {"capacity": {"value": 5.02, "unit": "A.h"}, "line": "B2"}

    client.cell_batch.create(spec_id, {"name": "LOT-2025-Q2"})
    client.cell_batch.create(spec_id, {"name": "Pilot"})
    everything = client.cell_batch.list(spec_id)
    assert everything.total == 3
    assert {b.name for b in everything} == {"LOT-2025-Q1", "LOT-2025-Q2", "Pilot"}
    substring = client.cell_batch.list(spec_id, name="lot-2025")
    assert substring.total == 2
    assert {b.name for b in substring} == {"LOT-2025-Q1", "LOT-2025-Q2"}
    exact = client.cell_batch.list(spec_id, name_exact="LOT-2025-Q1")
    assert [b.id for b in exact] == [batch.id]
    page = client.cell_batch.list(spec_id, limit=2, offset=0)
    assert len(page.items) == 2
    assert page.total == 3


def test_batches_are_listed_per_specification(client: Ionworks) -> None:
    first, second = _spec(client, "A"), _spec(client, "B")
    client.cell_batch.create(first, {"name": "LOT-1"})
    same_name_elsewhere = client.cell_batch.create(second, {"name": "lot-1"})
    assert same_name_elsewhere.cell_specification_id == second
    assert [b.name for b in client.cell_batch.list(first)] == ["LOT-1"]
    assert [b.name for b in client.cell_batch.list(second)] == ["lot-1"]


def test_duplicate_name_in_another_case_answers_409_and_create_or_get_returns_it(
    client: Ionworks, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec_id = _spec(client)
    batch = client.cell_batch.create(spec_id, {"name": "LOT-A", "notes": "original"})
    error = assert_error(
        api.post(f"/cell_specifications/{spec_id}/cell_batches", json={"name": "lot-a"}), 409, "CONFLICT"
    )
    assert error["detail"]["existing_id"] == batch.id

    def no_name_lookup(*args: object, **kwargs: object) -> None:
        raise AssertionError("create_or_get should resolve the conflict by detail.existing_id")

    monkeypatch.setattr(client.cell_batch, "list", no_name_lookup)
    again = client.cell_batch.create_or_get(spec_id, {"name": "Lot-A", "notes": "ignored"})
    monkeypatch.undo()
    assert again.id == batch.id
    assert again.name == "LOT-A"
    assert again.notes == "original"
    assert client.cell_batch.list(spec_id).total == 1


def test_create_or_get_creates_when_new(client: Ionworks) -> None:
    spec_id = _spec(client)
    created = client.cell_batch.create_or_get(spec_id, {"name": "Fresh", "date_manufactured": "2024-02-29"})
    assert created.date_manufactured == "2024-02-29"
    assert client.cell_batch.get(created.id).name == "Fresh"


def test_update_renames_for_member_instances_and_counts_them(client: Ionworks) -> None:
    spec_id = _spec(client)
    batch = client.cell_batch.create(spec_id, {"name": "LOT-A", "notes": "n1"})
    members = [
        client.cell_instance.create(spec_id, {"name": f"Cell {i}", "batch_id": batch.id}) for i in range(3)
    ]
    loose = client.cell_instance.create(spec_id, {"name": "Loose"})
    assert all(m.batch_name == "LOT-A" for m in members)
    assert client.cell_batch.get(batch.id).instance_count == 3
    assert [b.instance_count for b in client.cell_batch.list(spec_id)] == [3]

    updated = client.cell_batch.update(
        batch.id, {"name": "LOT-A-2025", "date_manufactured": "2025-03-01", "properties": {"line": "C"}}
    )
    assert updated.name == "LOT-A-2025"
    assert updated.notes == "n1"
    assert updated.date_manufactured == "2025-03-01"
    assert updated.instance_count == 3
    for member in members:
        fetched = client.cell_instance.get(member.id)
        assert (fetched.batch_id, fetched.batch_name) == (batch.id, "LOT-A-2025")
    assert client.cell_instance.get(loose.id).batch_name is None

    client.cell_instance.update(members[0].id, {"batch_id": None})
    client.cell_instance.delete(members[1].id)
    assert client.cell_batch.get(batch.id).instance_count == 1
    client.cell_instance.update(loose.id, {"batch_id": batch.id})
    assert client.cell_batch.get(batch.id).instance_count == 2


def test_rename_changing_only_case_is_allowed_but_onto_another_batch_conflicts(
    client: Ionworks, api: Api
) -> None:
    spec_id = _spec(client)
    first = client.cell_batch.create(spec_id, {"name": "lot-a"})
    second = client.cell_batch.create(spec_id, {"name": "LOT-B"})
    assert client.cell_batch.update(first.id, {"name": "LOT-A"}).name == "LOT-A"
    error = assert_error(api.patch(f"/cell_batches/{second.id}", json={"name": "Lot-A"}), 409, "CONFLICT")
    assert error["detail"]["existing_id"] == first.id
    assert client.cell_batch.get(second.id).name == "LOT-B"


def test_delete_keeps_the_instances_outside_any_batch(client: Ionworks) -> None:
    spec_id = _spec(client)
    batch = client.cell_batch.create(spec_id, {"name": "LOT-X"})
    cells = [client.cell_instance.create(spec_id, {"name": f"C{i}", "batch_id": batch.id}) for i in range(2)]
    client.cell_batch.delete(batch.id)
    with pytest.raises(IonworksError) as error:
        client.cell_batch.get(batch.id)
    assert (error.value.status_code, error.value.error_code) == (404, "NOT_FOUND")
    assert client.cell_batch.list(spec_id).total == 0
    for cell in cells:
        fetched = client.cell_instance.get(cell.id)
        assert fetched.batch_id is None
        assert fetched.batch_name is None
    listed = client.cell_instance.list(spec_id)
    assert {c.id for c in listed} == {c.id for c in cells}
    assert all(c.batch_id is None for c in listed)
    # the freed name can be used again
    assert client.cell_batch.create(spec_id, {"name": "lot-x"}).id != batch.id


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 256}, "name"),
        ({}, "name"),
        ({"name": "L", "date_manufactured": "2024-13-40"}, "date_manufactured"),
        ({"name": "L", "date_manufactured": "2023-02-29"}, "date_manufactured"),
        ({"name": "L", "date_manufactured": "15/01/2025"}, "date_manufactured"),
        ({"name": "L", "properties": {"capacity": 5}}, "properties.capacity"),
        ({"name": "L", "properties": {"capacity": {"value": "five", "unit": "A.h"}}}, "properties.capacity"),
        ({"name": "L", "color": "red"}, "color"),
    ],
)
def test_bad_batches_are_refused_with_422(client: Ionworks, api: Api, body: dict, field: str) -> None:
    spec_id = _spec(client)
    error = assert_error(api.post(f"/cell_specifications/{spec_id}/cell_batches", json=body), 422)
    assert error["error_code"] == "VALIDATION_ERROR"
    assert field in error["message"]
    assert client.cell_batch.list(spec_id).total == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"date_manufactured": "2024-13-40"}, "date_manufactured"),
        ({"properties": {"capacity": 5}}, "properties.capacity"),
        ({"instance_count": 7}, "instance_count"),
    ],
)
def test_bad_batch_updates_are_refused_and_change_nothing(
    client: Ionworks, api: Api, body: dict, field: str
) -> None:
    spec_id = _spec(client)
    batch = client.cell_batch.create(spec_id, {"name": "LOT", "date_manufactured": "2025-01-01"})
    before = api.get(f"/cell_batches/{batch.id}").json()
    error = assert_error(api.patch(f"/cell_batches/{batch.id}", json=body), 422, "VALIDATION_ERROR")
    assert field in error["message"]
    assert api.get(f"/cell_batches/{batch.id}").json() == before


def test_client_sees_422_as_an_ionworks_error(client: Ionworks) -> None:
    spec_id = _spec(client)
    with pytest.raises(IonworksError) as error:
        client.cell_batch.create(spec_id, {"name": "L", "date_manufactured": "2024-13-40"})
    assert error.value.status_code == 422
    assert error.value.error_code == "VALIDATION_ERROR"


def test_unknown_batch_and_spec_answer_404(client: Ionworks, api: Api) -> None:
    missing = str(uuid.uuid4())
    assert_error(api.get(f"/cell_batches/{missing}"), 404, "NOT_FOUND")
    assert_error(api.patch(f"/cell_batches/{missing}", json={"notes": "x"}), 404, "NOT_FOUND")
    assert_error(api.delete(f"/cell_batches/{missing}"), 404, "NOT_FOUND")
    assert_error(api.get(f"/cell_specifications/{missing}/cell_batches"), 404, "NOT_FOUND")
    assert_error(
        api.post(f"/cell_specifications/{missing}/cell_batches", json={"name": "L"}), 404, "NOT_FOUND"
    )


def test_batches_under_another_organizations_spec_answer_404(
    server: LiveServer, client: Ionworks, api: Api, other_tenant: Tenant
) -> None:
    other = server.client(other_tenant)
    their_spec = other.cell_spec.create({"name": "Theirs"})
    their_batch = other.cell_batch.create(their_spec.id, {"name": "LOT-T"})
    unknown = str(uuid.uuid4())
    for spec_id in (their_spec.id, unknown):
        listing = assert_error(api.get(f"/cell_specifications/{spec_id}/cell_batches"), 404, "NOT_FOUND")
        creating = assert_error(
            api.post(f"/cell_specifications/{spec_id}/cell_batches", json={"name": "Mine"}), 404, "NOT_FOUND"
        )
        assert listing["message"] == creating["message"]
    with pytest.raises(IonworksError) as error:
        client.cell_batch.create_or_get(their_spec.id, {"name": "LOT-T"})
    assert (error.value.status_code, error.value.error_code) == (404, "NOT_FOUND")
    with pytest.raises(IonworksError) as error:
        client.cell_batch.get(their_batch.id)
    assert error.value.status_code == 404
    assert [b.name for b in other.cell_batch.list(their_spec.id)] == ["LOT-T"]


def test_batch_list_filters_over_http(client: Ionworks, api: Api) -> None:
    spec_id = _spec(client)
    first = client.cell_batch.create(spec_id, {"name": "Alpha"})
    second = client.cell_batch.create(spec_id, {"name": "Beta"})
    path = f"/cell_specifications/{spec_id}/cell_batches"
    email = api.get(f"/cell_batches/{first.id}").json()["created_by_email"]
    assert email
    by_email = api.get(path, params={"created_by_email": f"ilike.%{email[:6]}%"}).json()
    assert by_email["total"] == 2
    assert api.get(path, params={"created_by_email": "ilike.%nobody%"}).json()["total"] == 0
    after = api.get(path, params={"created_at_gt": first.created_at}).json()
    assert [b["id"] for b in after["items"]] == [second.id]
    before = api.get(path, params={"created_at_lt": second.created_at}).json()
    assert [b["id"] for b in before["items"]] == [first.id]
    descending = api.get(path, params={"order_by": "name", "order": "desc"}).json()
    assert [b["name"] for b in descending["items"]] == ["Beta", "Alpha"]
    assert (descending["count"], descending["total"]) == (2, 2)
    assert_error(api.get(path, params={"colour": "red"}), 422, "VALIDATION_ERROR")
