"""Operations on an application's variables: `${NAME}` in its jobs, resolved when each run starts."""

from __future__ import annotations

from chalicelib.contracts.base import Example, Operation, Scenario, define
from chalicelib.contracts.models import VARIABLE_FORM, VARIABLE_NAME, Variable, VariableInput

TAGS = ("scheduler", "variable")
ONE = "/_/scheduler/applications/{id}/variables/{name}"
NAME = {"name": VARIABLE_FORM}
CONTEXT = (
    f"Members of the application and admins; other tenants get 404. Names match {VARIABLE_NAME}; "
    "GATEWAY_URL, JOB_NAME and APPLICATION are built in and read-only."
)

PUT = define(
    Operation(
        key="scheduler.variable.put",
        version="1.0.0",
        kind="command",
        method="PUT",
        path=ONE,
        path_patterns=NAME,
        description="Create or replace a variable of the application.",
        goal="Keep a host, a key or any value out of the job, so one jobs.json serves every environment.",
        context=CONTEXT + " The next run of every job that uses it sees the new value.",
        input=VariableInput,
        output=Variable,
        tags=TAGS,
        errors={
            400: "the name is a built-in one",
            409: "the application already has 64 variables, or other requests changed its variables on every attempt",
        },
        scenarios=(
            Scenario("set-host", ("An application exists",), ("HOST is set",), ("200 with the value",)),
            Scenario("set-secret", ("An application exists",), ("API_KEY is set secret",), ("200, value masked",)),
        ),
        examples=(
            Example(
                key="set-host",
                given=("application",),
                path={"id": "{applicationId}", "name": "HOST"},
                input={"value": "crm.example.com"},
                output={"name": "HOST", "value": "crm.example.com", "secret": False, "updatedBy": "admin"},
            ),
            Example(
                key="set-secret",
                given=("application",),
                path={"id": "{applicationId}", "name": "API_KEY"},
                input={"value": "sk_live_123", "secret": True},
                output={"name": "API_KEY", "value": "********", "secret": True},
            ),
            Example(
                key="built-in-refused",
                given=("application",),
                path={"id": "{applicationId}", "name": "JOB_NAME"},
                input={"value": "x"},
                output={"error": {"code": "VALIDATION_ERROR", "details": [{"field": "name"}]}},
                status=400,
            ),
            Example(
                key="other-tenant",
                given=("application",),
                path={"id": "{applicationId}", "name": "HOST"},
                input={"value": "x"},
                output={"error": {"code": "NOT_FOUND"}},
                status=404,
                as_user="outsider",
            ),
        ),
    )
)

LIST = define(
    Operation(
        key="scheduler.variable.list",
        version="1.0.0",
        kind="query",
        method="GET",
        path="/_/scheduler/applications/{id}/variables",
        description="List the application's variables by name, secret values masked.",
        goal="See what the application's jobs can refer to.",
        context=CONTEXT,
        output=list[Variable],
        tags=TAGS,
        examples=(Example(key="none-yet", given=("application",), path={"id": "{applicationId}"}, output=[]),),
    )
)

GET = define(
    Operation(
        key="scheduler.variable.get",
        version="1.0.0",
        kind="query",
        method="GET",
        path=ONE,
        path_patterns=NAME,
        description="One variable, its value masked when secret.",
        goal="Check a value before a run uses it.",
        context=CONTEXT,
        output=Variable,
        tags=TAGS,
        examples=(
            Example(
                key="missing",
                given=("application",),
                path={"id": "{applicationId}", "name": "HOST"},
                output={"error": {"code": "NOT_FOUND"}},
                status=404,
            ),
        ),
    )
)

DELETE = define(
    Operation(
        key="scheduler.variable.delete",
        version="1.0.0",
        kind="command",
        method="DELETE",
        path=ONE,
        path_patterns=NAME,
        description="Delete a variable no job uses.",
        goal="Retire a value without breaking a job.",
        context=CONTEXT + " A variable still used by a job is a 409 naming the jobs.",
        output=None,
        status=204,
        tags=TAGS,
        errors={
            409: "a job still uses the variable (the answer names them), or other requests changed the "
            "application's variables on every attempt"
        },
        scenarios=(Scenario("in-use", ("Job `sync` uses ${HOST}",), ("HOST is deleted",), ("409 naming `sync`",)),),
        examples=(
            Example(
                key="missing",
                given=("application",),
                path={"id": "{applicationId}", "name": "HOST"},
                output={"error": {"code": "NOT_FOUND"}},
                status=404,
            ),
        ),
    )
)
