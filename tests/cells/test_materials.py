"""Specifications related through the materials of their components."""

from __future__ import annotations

from typing import Any

import pytest
from ionworks import Ionworks

from tests.support import Api, LiveServer, Tenant, assert_error

NMC = {"name": "NMC811", "manufacturer": "Umicore"}
LFP = {"name": "LFP", "manufacturer": "BTR"}
GRAPHITE = {"name": "Graphite", "manufacturer": "Hitachi"}
SILICON = {"name": "SiOx-Graphite", "manufacturer": "Shin-Etsu"}


def _component(material: dict[str, str], **properties: Any) -> dict[str, Any]:
    return {"material": dict(material), "properties": properties}


def _create(client: Ionworks, name: str, project_id: str | None = None, **slots: dict[str, str]) -> Any:
    body: dict[str, Any] = {"name": name, **{slot: _component(m) for slot, m in slots.items()}}
    if project_id is not None:
        body["project_id"] = project_id
    return client.cell_spec.create(body)


def _material_id(client: Ionworks, spec_id: str, slot: str) -> str:
    component = client.cell_spec.get(spec_id).model_dump()[slot]
    assert isinstance(component, dict), component
    material_id = component["material_id"]
    assert isinstance(material_id, str) and material_id
    return material_id


def _names(page: Any) -> set[str]:
    return {s.name for s in page}


@pytest.fixture
def family(client: Ionworks) -> dict[str, Any]:
    """Four specs: A and B share the NMC cathode, C uses NMC as its anode (sic), D shares nothing."""
    specs = {
        "A": _create(client, "A", cathode=NMC, anode=GRAPHITE),
        "B": _create(client, "B", cathode=NMC, anode=SILICON),
        "C": _create(client, "C", anode=NMC, cathode=LFP),
        "D": _create(client, "D", cathode=LFP, anode=SILICON),
    }
    return {name: spec.id for name, spec in specs.items()}


def test_specs_sharing_a_material_get_the_same_material_id(client: Ionworks, family: dict[str, Any]) -> None:
    nmc = _material_id(client, family["A"], "cathode")
    assert _material_id(client, family["B"], "cathode") == nmc
    assert _material_id(client, family["C"], "anode") == nmc
    assert _material_id(client, family["C"], "cathode") != nmc
    assert _material_id(client, family["A"], "anode") != _material_id(client, family["B"], "anode")
    spec = client.cell_spec.get(family["A"]).model_dump()
    assert spec["cathode"]["material"]["name"] == "NMC811"
    assert spec["cathode"]["material"]["manufacturer"] == "Umicore"


def test_same_name_from_another_manufacturer_is_another_material(client: Ionworks) -> None:
    first = _create(client, "X", cathode={"name": "NMC811", "manufacturer": "Umicore"})
    second = _create(client, "Y", cathode={"name": "NMC811", "manufacturer": "BASF"})
    assert _material_id(client, first.id, "cathode") != _material_id(client, second.id, "cathode")


def test_list_by_material_in_any_slot(client: Ionworks, family: dict[str, Any]) -> None:
    nmc = _material_id(client, family["A"], "cathode")
    lfp = _material_id(client, family["D"], "cathode")
    silicon = _material_id(client, family["D"], "anode")
    found = client.cell_spec.list(material_id=nmc)
    assert _names(found) == {"A", "B", "C"}
    assert found.total == 3
    assert _names(client.cell_spec.list(material_id=[lfp])) == {"C", "D"}
    assert _names(client.cell_spec.list(material_id=[silicon, lfp])) == {"B", "C", "D"}
    assert _names(client.cell_spec.list(material_id=nmc, exclude_cell_spec_id=family["A"])) == {"B", "C"}
    assert len(client.cell_spec.list(material_id=[])) == 0


def test_list_by_material_in_one_slot(client: Ionworks, family: dict[str, Any]) -> None:
    nmc = _material_id(client, family["A"], "cathode")
    silicon = _material_id(client, family["D"], "anode")
    assert _names(client.cell_spec.list(cathode_material_id=nmc)) == {"A", "B"}
    assert _names(client.cell_spec.list(anode_material_id=nmc)) == {"C"}
    assert _names(client.cell_spec.list(electrolyte_material_id=nmc)) == set()
    assert _names(client.cell_spec.list(cathode_material_id=nmc, anode_material_id=silicon)) == {
        "A",
        "B",
        "D",
    }
    assert _names(client.cell_spec.list(cathode_material_id=nmc, exclude_cell_spec_id=family["B"])) == {"A"}


def test_related_specs_excludes_the_spec_itself(client: Ionworks, family: dict[str, Any]) -> None:
    related = client.cell_spec.related_specs(family["A"])
    assert _names(related) == {"B", "C"}
    assert related.total == 2
    assert _names(client.cell_spec.related_specs(family["A"], slots=["cathode"])) == {"B"}
    assert _names(client.cell_spec.related_specs(family["A"], slots=["anode"])) == set()
    assert _names(client.cell_spec.related_specs(family["D"])) == {"B", "C"}
    assert _names(client.cell_spec.related_specs(family["D"], slots=["anode"])) == {"B"}
    assert _names(client.cell_spec.related_specs(family["A"], exclude_self=False)) == {"A", "B", "C"}


def test_a_spec_without_materials_has_no_relatives(client: Ionworks, family: dict[str, Any]) -> None:
    bare = client.cell_spec.create({"name": "Bare", "cathode": {"properties": {"x": "y"}}})
    assert len(client.cell_spec.related_specs(bare.id)) == 0


def test_related_specs_stay_in_the_spec_project(client: Ionworks, family: dict[str, Any]) -> None:
    project = client.project.create({"name": "Second project"})
    elsewhere = _create(client, "Elsewhere", project_id=project.id, cathode=NMC)
    nmc = _material_id(client, family["A"], "cathode")
    assert _material_id(client, elsewhere.id, "cathode") == nmc
    assert _names(client.cell_spec.related_specs(family["A"])) == {"B", "C"}
    assert _names(client.cell_spec.related_specs(elsewhere.id)) == set()
    assert _names(client.cell_spec.list(material_id=nmc, project_id=project.id)) == {"Elsewhere"}
    assert _names(client.cell_spec.list(material_id=nmc)) == {"A", "B", "C"}


def test_materials_of_another_organization_are_not_shared(
    server: LiveServer, client: Ionworks, other_tenant: Tenant, family: dict[str, Any]
) -> None:
    other = server.client(other_tenant)
    theirs = _create(other, "Theirs", cathode=NMC)
    ours = _material_id(client, family["A"], "cathode")
    assert _names(other.cell_spec.list(material_id=ours)) == set()
    assert _names(other.cell_spec.list(cathode_material_id=ours)) == set()
    assert _names(other.cell_spec.related_specs(theirs.id)) == set()
    assert _names(client.cell_spec.related_specs(family["A"])) == {"B", "C"}
    theirs_id = _material_id(other, theirs.id, "cathode")
    assert "Theirs" not in _names(client.cell_spec.list(material_id=theirs_id))


def test_changing_a_material_moves_the_spec_to_the_new_material(
    client: Ionworks, family: dict[str, Any]
) -> None:
    nmc = _material_id(client, family["A"], "cathode")
    lfp = _material_id(client, family["D"], "cathode")
    client.cell_spec.update(family["B"], {"cathode": {"material": dict(LFP)}})
    spec = client.cell_spec.get(family["B"]).model_dump()
    assert spec["cathode"]["material"]["name"] == "LFP"
    assert spec["cathode"]["material_id"] != nmc, "the cathode now made of LFP kept NMC's material_id"
    assert spec["cathode"]["material_id"] == lfp
    assert spec["cathode"]["material"].get("id", lfp) == lfp
    assert _names(client.cell_spec.list(cathode_material_id=nmc)) == {"A"}
    assert _names(client.cell_spec.list(cathode_material_id=lfp)) == {"B", "C", "D"}
    assert "B" in _names(client.cell_spec.related_specs(family["D"], slots=["cathode"]))


def test_removing_a_component_drops_it_from_the_material_filters(
    client: Ionworks, family: dict[str, Any]
) -> None:
    nmc = _material_id(client, family["A"], "cathode")
    client.cell_spec.update(family["B"], {"cathode": None})
    assert "cathode" not in client.cell_spec.get(family["B"]).model_dump()
    assert _names(client.cell_spec.list(material_id=nmc)) == {"A", "C"}


def test_removing_the_material_of_a_component_drops_it_from_the_material_filters(
    client: Ionworks, family: dict[str, Any]
) -> None:
    nmc = _material_id(client, family["A"], "cathode")
    client.cell_spec.update(family["B"], {"cathode": {"material": None}})
    cathode = client.cell_spec.get(family["B"]).model_dump()["cathode"]
    assert "material" not in cathode
    assert cathode.get("material_id") is None, "a cathode without a material still names one"
    assert _names(client.cell_spec.list(material_id=nmc)) == {"A", "C"}


@pytest.mark.parametrize(
    "query",
    [
        "material_id=not-a-uuid",
        "material_ids=not-a-uuid",
        "cathode_material_id=nope",
        "exclude_cell_spec_id=nope",
    ],
)
def test_malformed_material_filters_answer_422(api: Api, tenant: Tenant, query: str) -> None:
    response = api.get(f"/cell_specifications?project_id={tenant.project_id}&{query}")
    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert query.split("=")[0] in error["message"]
