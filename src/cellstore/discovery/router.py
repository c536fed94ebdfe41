"""Health and discovery endpoints. The data schema is generated from the real response models."""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import APIRouter
from pydantic.json_schema import models_json_schema

from cellstore import __version__
from cellstore.accounts.auth import PrincipalDep
from cellstore.cells.schemas import CellBatchRead, CellInstanceRead, CellSpecificationRead
from cellstore.core.errors import NotFound, NotImplementedByCellstore
from cellstore.projects.schemas import ProjectRead

router = APIRouter(tags=["Health and discovery"])

HIERARCHY = ["organization", "project", "cell_specification", "cell_batch", "cell_instance", "measurement"]


@router.get("/healthz")
async def health() -> dict[str, str]:
    """Liveness: answers without credentials."""
    return {"status": "ok", "version": __version__}


@router.get("/discovery/capabilities")
async def capabilities(principal: PrincipalDep) -> dict[str, Any]:
    """What this server offers, for people and agents finding their way around it."""
    return {
        "server": {"name": "cellstore", "version": __version__},
        "domain_context": {
            "description": "Battery cell test data: cell designs, physical cells and their measurements.",
            "hierarchy": HIERARCHY,
            "key_concepts": {
                "cell_specification": "A cell design (datasheet): ratings, components and materials.",
                "cell_batch": "A manufacturing lot of one specification.",
                "cell_instance": "One physical cell of a specification, optionally in a batch.",
                "measurement": "A time_series, file or properties record of one cell instance.",
                "quantity": 'A number with its unit: {"value": 5, "unit": "A.h"}.',
            },
        },
        "schemas": ["data"],
        "openapi_spec": "/openapi.json",
        "authentication": {
            "api_key_header": "X-API-Key",
            "bearer": "Authorization: Bearer <token>",
            "organization_header": "X-Organization-Id",
        },
        "not_implemented": "Modelling endpoints (simulations, pipelines, models, ...) answer 501.",
    }


@cache
def data_schema() -> dict[str, Any]:
    _, schema = models_json_schema(
        [
            (ProjectRead, "serialization"),
            (CellSpecificationRead, "serialization"),
            (CellBatchRead, "serialization"),
            (CellInstanceRead, "serialization"),
        ],
        title="cellstore data hierarchy",
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "description": "Resources of the cell data hierarchy, from the server's own response models.",
        "hierarchy": HIERARCHY,
        **schema,
    }


@router.get("/discovery/schemas/{name}")
async def schema(name: str, principal: PrincipalDep) -> dict[str, Any]:
    """JSON Schema of the cell data hierarchy (``data``)."""
    if name == "data":
        return data_schema()
    if name == "protocol":
        raise NotImplementedByCellstore("cellstore does not provide the UCP protocol schema")
    raise NotFound(f"Schema {name!r}", {"available": ["data"]})
