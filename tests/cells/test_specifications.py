"""Cell specifications through the real ionworks client and plain HTTP."""

from __future__ import annotations

import pytest
from ionworks.errors import IonworksError

from tests.support import Api, LiveServer, Tenant, assert_error


def test_create_get_and_create_or_get_returns_the_same_id(client) -> None:  # type: ignore[no-untyped-def]
    spec = client.cell_spec.create(
        {"name": "NMC 21700", "form_factor": "21700", "ratings": {"capacity": {"value": 5, "unit": "A.h"}}}
    )
    assert spec.project_id == client.project_id
    again = client.cell_spec.create_or_get({"name": "NMC 21700"})
    assert again.id == spec.id
    fetched = client.cell_spec.get(spec.id)
    assert fetched.ratings == {"capacity": {"value": 5, "unit": "A.h"}}


def test_duplicate_name_answers_409_with_existing_id(api: Api, tenant: Tenant) -> None:
    body = {"name": "Dup", "project_id": tenant.project_id}
    first = api.post("/cell_specifications", json=body).json()
    error = assert_error(api.post("/cell_specifications", json=body), 409, "CONFLICT")
    assert error["detail"]["existing_id"] == first["id"]


def test_list_with_name_exact_and_filters(client) -> None:  # type: ignore[no-untyped-def]
    for name, form in (("Coin A", "R2032"), ("Coin B", "R2032"), ("Pouch", "pouch")):
        client.cell_spec.create({"name": name, "form_factor": form})
    exact = client.cell_spec.list(name_exact="Coin A")
    assert [s.name for s in exact.items] == ["Coin A"]
    assert exact.total == 1
    coins = client.cell_spec.list(form_factor="R2032", order_by="name", order="asc")
    assert [s.name for s in coins.items] == ["Coin A", "Coin B"]
    substring = client.cell_spec.list(name="coin")
    assert substring.total == 2


def test_update_merges_and_delete_removes(client) -> None:  # type: ignore[no-untyped-def]
    spec = client.cell_spec.create(
        {"name": "Merge", "ratings": {"capacity": {"value": 5, "unit": "A.h"}}, "notes": "first"}
    )
    updated = client.cell_spec.update(spec.id, {"ratings": {"voltage_max": {"value": 4.2, "unit": "V"}}})
    assert updated.ratings == {
        "capacity": {"value": 5, "unit": "A.h"},
        "voltage_max": {"value": 4.2, "unit": "V"},
    }
    assert updated.notes == "first"
    client.cell_spec.delete(spec.id)
    with pytest.raises(IonworksError) as error:
        client.cell_spec.get(spec.id)
    assert error.value.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": "Q", "ratings": {"capacity": {"unit": "A.h"}}}, "ratings.capacity.value"),
        ({"name": "Q", "ratings": {"capacity": {"value": "five", "unit": "A.h"}}}, "ratings.capacity.value"),
        ({"name": "Q", "ratings": {"capacity": 5}}, "ratings.capacity"),
    ],
)
def test_bad_specifications_are_refused_naming_the_field(
    server: LiveServer, api: Api, tenant: Tenant, body: dict, field: str
) -> None:
    response = api.post("/cell_specifications", json={**body, "project_id": tenant.project_id})
    error = assert_error(response, 422)
    assert field in error["message"]
    assert api.get("/cell_specifications").json()["total"] == 0
