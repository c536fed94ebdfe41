"""501 for the modelling product of Ionworks, so a client learns that cellstore does not offer it.

A 404 would read as "this simulation does not exist"; NOT_IMPLEMENTED says
what is true. These routes are included last, so real routes always win.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from cellstore.core.errors import NotImplementedByCellstore

MODELLING_PREFIXES = (
    "/simulations",
    "/pipelines",
    "/simple_pipelines",
    "/models",
    "/parameterized_models",
    "/cells",
    "/model_builders",
    "/optimizations",
    "/ecm",
    "/analyses",
    "/materials",
    "/material_property_datasets",
    "/discovery/pybamm_models",
    "/discovery/ionworks_models",
    "/protocols/parse-to-template",
    "/agent",
)
MODELLING_PATTERNS = (
    "/cell_specifications/{spec_id}/resolved",
    "/cell_specifications/{spec_id}/builder_readiness",
    "/projects/{project_id}/studies{rest:path}",
    "/jobs/{job_id}/metadata",
    "/jobs/{job_id}/series{rest:path}",
)
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]

router = APIRouter(include_in_schema=False)


async def not_implemented(request: Request) -> None:
    raise NotImplementedByCellstore(
        f"{request.method} {request.url.path} belongs to Ionworks' modelling product "
        "(simulations, models, pipelines, optimizations), which cellstore does not implement; "
        "cellstore serves cell test data.",
        {"path": request.url.path},
    )


for prefix in MODELLING_PREFIXES:
    router.add_api_route(prefix, not_implemented, methods=METHODS)
    router.add_api_route(prefix + "/{rest:path}", not_implemented, methods=METHODS)
for pattern in MODELLING_PATTERNS:
    router.add_api_route(pattern, not_implemented, methods=METHODS)
