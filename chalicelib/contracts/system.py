"""Operations of the service itself: health and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from chalicelib.contracts.base import Example, Operation, Policy, Scenario, define
from chalicelib.contracts.models import Health

HEALTH = define(
    Operation(
        key="scheduler.health.get",
        version="1.0.0",
        kind="query",
        method="GET",
        path="/_/scheduler/health",
        description="Report whether the service can reach its store.",
        goal="Let load balancers, monitors and `make run` know the service is ready.",
        context="Answers 200 once the job store answers; needs no token.",
        output=Health,
        policy=Policy(auth="public"),
        tags=("scheduler", "system"),
        errors={503: "the job store is not reachable"},
        scenarios=(
            Scenario("health-ok", ("The store is reachable",), ("Anyone asks for health",), ("200 status ok",)),
        ),
        examples=(Example(key="health-ok", output={"status": "ok"}),),
    )
)

OPENAPI = define(
    Operation(
        key="scheduler.openapi.get",
        version="1.0.0",
        kind="query",
        method="GET",
        path="/_/scheduler/openapi.json",
        description="The OpenAPI 3.1 document of this API, generated from the operation contracts.",
        goal="Let clients generate SDKs and read the API without the source.",
        context="Public; the committed copy is docs/openapi.json.",
        output=dict[str, Any],
        policy=Policy(auth="public"),
        tags=("scheduler", "system"),
        examples=(Example(key="openapi-served", output={"openapi": "3.1.0"}),),
    )
)
