"""Operations on applications: the tenants that own jobs."""

from __future__ import annotations

from chalicelib.contracts.base import Example, Operation, Policy, Scenario, define
from chalicelib.contracts.models import Application, ApplicationCreate, ApplicationCreated, ApplicationListQuery

TAGS = ("scheduler", "application")

CREATE = define(
    Operation(
        key="scheduler.application.create",
        version="1.0.0",
        kind="command",
        method="POST",
        path="/_/scheduler/applications",
        description="Create an application (a tenant that owns jobs).",
        goal="Give a team a namespace for its jobs.",
        context="Admin only. Names are unique slugs; a second create of the same name is a conflict. The answer "
        "carries the application's first signing key with its `whsec_…` secret, shown this once.",
        input=ApplicationCreate,
        output=ApplicationCreated,
        status=201,
        policy=Policy(auth="admin"),
        tags=TAGS,
        errors={409: "an application of that name exists"},
        response_headers=("Location",),
        scenarios=(
            Scenario("create-app", ("Caller is admin",), ("Caller creates `billing`",), ("201 with the id",)),
            Scenario("duplicate-app", ("`billing` exists",), ("It is created again",), ("409 CONFLICT",)),
        ),
        examples=(
            Example(
                key="create-billing",
                input={"name": "billing", "displayName": "Billing"},
                output={"name": "billing", "displayName": "Billing", "signingKey": {"type": "hmac"}},
                status=201,
            ),
            Example(
                key="bad-slug",
                input={"name": "Billing Team", "displayName": "Billing"},
                output={"error": {"code": "VALIDATION_ERROR", "details": [{"field": "name"}]}},
                status=400,
            ),
            Example(
                key="non-admin-refused",
                input={"name": "other", "displayName": "Other"},
                output={"error": {"code": "FORBIDDEN"}},
                status=403,
                as_user="member",
            ),
            Example(
                key="duplicate-name",
                given=("application",),
                input={"name": "demo", "displayName": "Demo again"},
                output={"error": {"code": "CONFLICT", "details": [{"field": "name"}]}},
                status=409,
            ),
        ),
    )
)

LIST = define(
    Operation(
        key="scheduler.application.list",
        version="1.0.0",
        kind="query",
        method="GET",
        path="/_/scheduler/applications",
        description="List the applications the caller may see, by id.",
        goal="Find the application to create jobs in.",
        context="Admins see all; others see the applications named in their token's `apps` claim.",
        query=ApplicationListQuery,
        output=list[Application],
        tags=TAGS,
        response_headers=("X-Next-Cursor", "Link"),
        examples=(
            Example(key="list-apps", given=("application",), output=[{"name": "demo"}]),
            Example(key="member-sees-own", given=("application",), output=[{"name": "demo"}], as_user="member"),
            Example(key="outsider-sees-none", given=("application",), output=[], as_user="outsider"),
        ),
    )
)

GET = define(
    Operation(
        key="scheduler.application.get",
        version="1.0.0",
        kind="query",
        method="GET",
        path="/_/scheduler/applications/{id}",
        description="Get one application.",
        goal="Read an application's name and display name.",
        context="Applications the caller may not see answer 404.",
        output=Application,
        tags=TAGS,
        examples=(
            Example(key="get-app", given=("application",), path={"id": "{applicationId}"}, output={"name": "demo"}),
            Example(
                key="hidden-app",
                given=("application",),
                path={"id": "{applicationId}"},
                status=404,
                output={"error": {"code": "NOT_FOUND"}},
                as_user="outsider",
            ),
        ),
    )
)
