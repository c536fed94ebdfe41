"""Cell instances through the real ionworks client and plain HTTP."""

from __future__ import annotations

import uuid

import pytest
from ionworks import Ionworks
from ionworks.errors import IonworksError

from tests.support import Api, LiveServer, Tenant, assert_error


def _spec(client: Ionworks, name: str = "NMC 21700") -> str:
    return client.cell_spec.create({"name": name, "form_factor": "21700"}).id


def test_create_and_get_keep_free_form_fields(client: Ionworks) -> None:
    spec_id = _spec(client)
    created = client.cell_instance.create(
        spec_id,
        {
            "name": "SN-0001",
            "notes": "from tray 3",
            "date_manufactured": "2025-01-20",
            "measured_properties": {
                "mass": {"value": 68.2, "unit": "g"},
                "cathode": {"loading": {"value": 21.5, "unit": "mg/cm2"}, "supplier": "ACME"},
            },
            "barcode": "0042",
            "fixture": {"slot": 4, "rack": "R1"},
        },
    )
    assert created.cell_specification_id == spec_id
    assert created.batch_id is None
    assert created.batch_name is None
    fetched = client.cell_instance.get(created.id)
    assert fetched.name == "SN-0001"
    assert fetched.notes == "from tray 3"
    assert fetched.date_manufactured == "2025-01-20"
    assert fetched.measured_properties == {
        "mass": {"value": 68.2, "unit": "g"},
        "cathode": {"loading": {"value": 21.5, "unit": "mg/cm2"}, "supplier": "ACME"},
    }
    assert fetched.barcode == "0042"
    assert fetched.fixture == {"slot": 4, "rack": "R1"}
    assert fetched.project_id == client.project_id


def test_duplicate_name_answers_409_and_create_or_get_returns_it(
    client: Ionworks, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec_id = _spec(client)
    cell = client.cell_instance.create(spec_id, {"name": "SN-1", "notes": "original"})
    error = assert_error(
        api.post(f"/cell_specifications/{spec_id}/cell_instances", json={"name": "SN-1"}), 409, "CONFLICT"
    )
    assert error["detail"]["existing_id"] == cell.id

    def no_name_lookup(*args: object, **kwargs: object) -> None:
        raise AssertionError("create_or_get should resolve the conflict by detail.existing_id")

    monkeypatch.setattr(client.cell_instance, "list", no_name_lookup)
    again = client.cell_instance.create_or_get(spec_id, {"name": "SN-1", "notes": "ignored"})
    monkeypatch.undo()
    assert again.id == cell.id
    assert again.notes == "original"
    assert client.cell_instance.list(spec_id).total == 1


def test_names_are_unique_per_spec_only(client: Ionworks, api: Api) -> None:
    first, second = _spec(client, "A"), _spec(client, "B")
    one = client.cell_instance.create(first, {"name": "SN-1"})
    other = client.cell_instance.create(second, {"name": "SN-1"})
    assert one.id != other.id
    two = client.cell_instance.create(first, {"name": "SN-2"})
    error = assert_error(api.patch(f"/cell_instances/{two.id}", json={"name": "SN-1"}), 409, "CONFLICT")
    assert error["detail"]["existing_id"] == one.id
    assert client.cell_instance.get(two.id).name == "SN-2"


def test_list_filters_and_order(client: Ionworks) -> None:
    spec_id = _spec(client)
    other_spec = _spec(client, "Other")
    batch = client.cell_batch.create(spec_id, {"name": "LOT-1"})
    for name in ("Cell B", "Cell A", "Cell C"):
        client.cell_instance.create(
            spec_id, {"name": name, "batch_id": batch.id if name != "Cell C" else None}
        )
    client.cell_instance.create(spec_id, {"name": "Reference"})
    client.cell_instance.create(other_spec, {"name": "Cell Z"})

    everything = client.cell_instance.list(spec_id)
    assert everything.total == 4
    exact = client.cell_instance.list(spec_id, name_exact="Cell A")
    assert [c.name for c in exact] == ["Cell A"]
    assert client.cell_instance.list(spec_id, name_exact="cell a").total == 0
    substring = client.cell_instance.list(spec_id, name="cell", order_by="name", order="asc")
    assert [c.name for c in substring] == ["Cell A", "Cell B", "Cell C"]
    assert substring.total == 3
    descending = client.cell_instance.list(spec_id, order_by="name", order="desc")
    assert [c.name for c in descending] == ["Reference", "Cell C", "Cell B", "Cell A"]
    in_batch = client.cell_instance.list(spec_id, batch_id=batch.id, order_by="name", order="asc")
    assert [(c.name, c.batch_name) for c in in_batch] == [("Cell A", "LOT-1"), ("Cell B", "LOT-1")]
    assert in_batch.total == 2
    page = client.cell_instance.list(spec_id, limit=2, offset=2, order_by="name", order="asc")
    assert [c.name for c in page.items] == ["Cell C", "Reference"]
    assert page.total == 4


def test_move_into_a_batch_and_out_again(client: Ionworks) -> None:
    spec_id = _spec(client)
    batch = client.cell_batch.create(spec_id, {"name": "LOT-1"})
    cell = client.cell_instance.create(spec_id, {"name": "SN-1", "notes": "kept"})
    moved = client.cell_instance.update(cell.id, {"batch_id": batch.id})
    assert (moved.batch_id, moved.batch_name) == (batch.id, "LOT-1")
    assert moved.notes == "kept"
    assert client.cell_instance.get(cell.id).batch_id == batch.id
    assert client.cell_batch.get(batch.id).instance_count == 1
    out = client.cell_instance.update(cell.id, {"batch_id": None})
    assert (out.batch_id, out.batch_name) == (None, None)
    assert out.notes == "kept"
    fetched = client.cell_instance.get(cell.id)
    assert (fetched.batch_id, fetched.batch_name) == (None, None)
    assert client.cell_batch.get(batch.id).instance_count == 0


def test_patch_without_batch_id_leaves_the_batch_alone(client: Ionworks) -> None:
    spec_id = _spec(client)
    batch = client.cell_batch.create(spec_id, {"name": "LOT-1"})
    cell = client.cell_instance.create(spec_id, {"name": "SN-1", "batch_id": batch.id})
    updated = client.cell_instance.update(cell.id, {"notes": "checked"})
    assert (updated.batch_id, updated.batch_name, updated.notes) == (batch.id, "LOT-1", "checked")


def test_moving_into_a_batch_of_another_spec_answers_400(client: Ionworks) -> None:
    spec_id, other_spec = _spec(client), _spec(client, "Other")
    own = client.cell_batch.create(spec_id, {"name": "LOT-1"})
    foreign = client.cell_batch.create(other_spec, {"name": "LOT-2"})
    cell = client.cell_instance.create(spec_id, {"name": "SN-1", "batch_id": own.id})
    for bad in (foreign.id, str(uuid.uuid4())):
        with pytest.raises(IonworksError) as error:
            client.cell_instance.update(cell.id, {"batch_id": bad, "notes": "must not be applied"})
        assert error.value.status_code == 400
        assert error.value.error_code == "BAD_REQUEST"
    fetched = client.cell_instance.get(cell.id)
    assert (fetched.batch_id, fetched.batch_name) == (own.id, "LOT-1")
    assert getattr(fetched, "notes", None) is None
    assert client.cell_batch.get(foreign.id).instance_count == 0
    assert client.cell_batch.get(own.id).instance_count == 1


def test_creating_with_a_batch_of_another_spec_answers_400(client: Ionworks, api: Api) -> None:
    spec_id, other_spec = _spec(client), _spec(client, "Other")
    foreign = client.cell_batch.create(other_spec, {"name": "LOT-2"})
    with pytest.raises(IonworksError) as error:
        client.cell_instance.create(spec_id, {"name": "SN-1", "batch_id": foreign.id})
    assert (error.value.status_code, error.value.error_code) == (400, "BAD_REQUEST")
    raw = api.post(
        f"/cell_specifications/{spec_id}/cell_instances", json={"name": "SN-1", "batch_id": foreign.id}
    )
    assert_error(raw, 400, "BAD_REQUEST")
    assert client.cell_instance.list(spec_id).total == 0
    assert client.cell_batch.get(foreign.id).instance_count == 0
    joined = client.cell_instance.create(other_spec, {"name": "SN-1", "batch_id": foreign.id})
    assert joined.batch_name == "LOT-2"


def test_custom_fields_are_merge_patched(client: Ionworks) -> None:
    spec_id = _spec(client)
    cell = client.cell_instance.create(
        spec_id,
        {
            "name": "SN-1",
            "notes": "first",
            "operator": "kim",
            "measured_properties": {
                "mass": {"value": 68.2, "unit": "g"},
                "ocv": {"value": 3.61, "unit": "V"},
            },
            "fixture": {"slot": 4, "rack": "R1"},
        },
    )
    updated = client.cell_instance.update(
        cell.id,
        {
            "measured_properties": {
                "ocv": {"value": 3.65, "unit": "V"},
                "acir": {"value": 12.1, "unit": "mOhm"},
            },
            "fixture": {"rack": None, "shelf": 2},
            "operator": None,
            "humidity": "low",
        },
    )
    assert updated.measured_properties == {
        "mass": {"value": 68.2, "unit": "g"},
        "ocv": {"value": 3.65, "unit": "V"},
        "acir": {"value": 12.1, "unit": "mOhm"},
    }
    assert updated.fixture == {"slot": 4, "shelf": 2}
    assert updated.notes == "first"
    assert updated.humidity == "low"
    assert "operator" not in updated.model_dump()
    fetched = client.cell_instance.get(cell.id).model_dump()
    assert fetched["fixture"] == {"slot": 4, "shelf": 2}
    assert "operator" not in fetched
    assert fetched["measured_properties"]["ocv"] == {"value": 3.65, "unit": "V"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 256}, "name"),
        ({}, "name"),
        ({"name": "SN", "measured_properties": {"mass": 68.2}}, "measured_properties.mass"),
        ({"name": "SN", "batch_id": "not-a-uuid"}, "batch_id"),
    ],
)
def test_bad_instances_are_refused_with_422(client: Ionworks, api: Api, body: dict, field: str) -> None:
    spec_id = _spec(client)
    error = assert_error(api.post(f"/cell_specifications/{spec_id}/cell_instances", json=body), 422)
    assert error["error_code"] == "VALIDATION_ERROR"
    assert field in error["message"]
    assert client.cell_instance.list(spec_id).total == 0


def test_the_retired_batch_field_is_refused(client: Ionworks, api: Api) -> None:
    spec_id = _spec(client)
    with pytest.raises(ValueError, match="batch_id"):
        client.cell_instance.create(spec_id, {"name": "SN-1", "batch": "LOT-1"})
    path = f"/cell_specifications/{spec_id}/cell_instances"
    assert_error(api.post(path, json={"name": "SN-1", "batch": "LOT-1"}), 400, "BAD_REQUEST")
    assert client.cell_instance.list(spec_id).total == 0
    cell = client.cell_instance.create(spec_id, {"name": "SN-1"})
    assert_error(api.patch(f"/cell_instances/{cell.id}", json={"batch": "LOT-1"}), 400, "BAD_REQUEST")
    fetched = client.cell_instance.get(cell.id).model_dump()
    assert "batch" not in fetched
    assert fetched["batch_id"] is None


def test_delete_removes_the_instance(client: Ionworks, api: Api) -> None:
    spec_id = _spec(client)
    cell = client.cell_instance.create(spec_id, {"name": "SN-1"})
    keep = client.cell_instance.create(spec_id, {"name": "SN-2"})
    assert api.delete(f"/cell_instances/{cell.id}").status_code == 204
    with pytest.raises(IonworksError) as error:
        client.cell_instance.get(cell.id)
    assert (error.value.status_code, error.value.error_code) == (404, "NOT_FOUND")
    assert [c.id for c in client.cell_instance.list(spec_id)] == [keep.id]
    assert_error(api.delete(f"/cell_instances/{cell.id}"), 404, "NOT_FOUND")
    # the name is free again
    assert client.cell_instance.create(spec_id, {"name": "SN-1"}).id != cell.id


def test_deleting_the_spec_removes_its_instances_and_batches(client: Ionworks, api: Api) -> None:
    spec_id = _spec(client)
    survivor_spec = _spec(client, "Survivor")
    batch = client.cell_batch.create(spec_id, {"name": "LOT-1"})
    cells = [
        client.cell_instance.create(spec_id, {"name": f"SN-{i}", "batch_id": batch.id}) for i in range(2)
    ]
    loose = client.cell_instance.create(spec_id, {"name": "Loose"})
    survivor = client.cell_instance.create(survivor_spec, {"name": "SN-0"})
    client.cell_spec.delete(spec_id)
    for cell in [*cells, loose]:
        assert_error(api.get(f"/cell_instances/{cell.id}"), 404, "NOT_FOUND")
    assert_error(api.get(f"/cell_batches/{batch.id}"), 404, "NOT_FOUND")
    assert_error(api.get(f"/cell_specifications/{spec_id}/cell_instances"), 404, "NOT_FOUND")
    assert client.cell_instance.get(survivor.id).name == "SN-0"


def test_unknown_instance_and_spec_answer_404(api: Api) -> None:
    missing = str(uuid.uuid4())
    assert_error(api.get(f"/cell_instances/{missing}"), 404, "NOT_FOUND")
    assert_error(api.patch(f"/cell_instances/{missing}", json={"notes": "x"}), 404, "NOT_FOUND")
    assert_error(api.delete(f"/cell_instances/{missing}"), 404, "NOT_FOUND")
    assert_error(api.get(f"/cell_specifications/{missing}/cell_instances"), 404, "NOT_FOUND")
    path = f"/cell_specifications/{missing}/cell_instances"
    assert_error(api.post(path, json={"name": "SN"}), 404, "NOT_FOUND")


def test_instances_of_another_organization_are_invisible(
    server: LiveServer, client: Ionworks, other_tenant: Tenant
) -> None:
    other = server.client(other_tenant)
    their_spec = other.cell_spec.create({"name": "Theirs"})
    theirs = other.cell_instance.create(their_spec.id, {"name": "SN-T"})
    for call in (
        lambda: client.cell_instance.get(theirs.id),
        lambda: client.cell_instance.list(their_spec.id),
        lambda: client.cell_instance.create_or_get(their_spec.id, {"name": "SN-T"}),
        lambda: client.cell_instance.update(theirs.id, {"notes": "mine now"}),
        lambda: client.cell_instance.delete(theirs.id),
    ):
        with pytest.raises(IonworksError) as error:
            call()
        assert (error.value.status_code, error.value.error_code) == (404, "NOT_FOUND")
    fetched = other.cell_instance.get(theirs.id).model_dump()
    assert "notes" not in fetched


def test_list_by_creator_and_timestamps(client: Ionworks, api: Api) -> None:
    spec_id = _spec(client)
    first = client.cell_instance.create(spec_id, {"name": "First"})
    second = client.cell_instance.create(spec_id, {"name": "Second"})
    email = api.get(f"/cell_instances/{first.id}").json()["created_by_email"]
    assert email
    assert client.cell_instance.list(spec_id, created_by_email=email.split("@")[0].upper()).total == 2
    assert client.cell_instance.list(spec_id, created_by_email="nobody-else").total == 0
    after_first = client.cell_instance.list(spec_id, created_after=first.created_at)
    assert [c.id for c in after_first] == [second.id]
    before_second = client.cell_instance.list(spec_id, created_before=second.created_at)
    assert [c.id for c in before_second] == [first.id]
    touched = client.cell_instance.update(first.id, {"notes": "touched"})
    assert touched.updated_at > first.updated_at
    recently = client.cell_instance.list(spec_id, updated_after=second.updated_at)
    assert [c.id for c in recently] == [first.id]
    newest_first = client.cell_instance.list(spec_id, order_by="updated_at", order="desc")
    assert [c.id for c in newest_first] == [first.id, second.id]
    oldest_first = client.cell_instance.list(spec_id, order_by="created_at", order="asc")
    assert [c.id for c in oldest_first] == [first.id, second.id]


@pytest.mark.parametrize("query", ["colour=red", "order_by=colour", "order=sideways", "batch_id=nope"])
def test_bad_list_parameters_answer_422(client: Ionworks, api: Api, query: str) -> None:
    spec_id = _spec(client)
    error = assert_error(api.get(f"/cell_specifications/{spec_id}/cell_instances?{query}"), 422)
    assert error["error_code"] == "VALIDATION_ERROR"
    assert query.split("=")[0] in error["message"]
