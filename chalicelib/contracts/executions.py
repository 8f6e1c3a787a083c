"""Operations on executions: manual trigger, run history, one execution, recent runs, engine stats."""

from __future__ import annotations

from chalicelib.contracts.base import Example, Operation, Scenario, define
from chalicelib.contracts.models import (
    Execution,
    ExecutionListQuery,
    JobExecutionListQuery,
    Stats,
)

TAGS = ("scheduler", "execution")
NOT_FOUND = {"error": {"code": "NOT_FOUND"}}

TRIGGER = define(
    Operation(
        key="scheduler.job.trigger",
        version="1.0.0",
        kind="command",
        method="POST",
        path="/_/scheduler/jobs/{id}/trigger",
        description="Run a job now, once, outside its schedule.",
        goal="Test a job, or re-run it after fixing its target.",
        context=(
            "Answers 202 with the pending execution; the invoker runs it within seconds. Works on disabled "
            "jobs (a deliberate manual run). Parameters resolve relative to the trigger time."
        ),
        output=Execution,
        status=202,
        tags=(*TAGS, "job"),
        errors={
            429: "the manual runs a minute allowed per job or per application were used",
            503: "the run could not be recorded or the run queue is not reachable (the run is recorded failed)",
        },
        request_headers=("Idempotency-Key",),
        response_headers=("Location",),
        scenarios=(Scenario("trigger", ("A job exists",), ("A member triggers it",), ("202, a pending manual run",)),),
        examples=(
            Example(
                key="trigger-job",
                given=("job",),
                path={"id": "{jobId}"},
                status=202,
                output={"status": "pending", "trigger": "manual", "createdBy": "admin", "attempt": 0},
            ),
            Example(
                key="trigger-disabled-job",
                given=("disabled job",),
                path={"id": "{jobId}"},
                status=202,
                output={"status": "pending", "trigger": "manual"},
            ),
            Example(
                key="trigger-hidden",
                given=("job",),
                path={"id": "{jobId}"},
                status=404,
                output=NOT_FOUND,
                as_user="outsider",
            ),
        ),
    )
)

JOB_EXECUTIONS = define(
    Operation(
        key="scheduler.job.executions.list",
        version="1.0.0",
        kind="query",
        method="GET",
        path="/_/scheduler/jobs/{id}/executions",
        description="The run history of a job, newest first.",
        goal="See what each run of a job did.",
        context="Filters status, from, to (on the slot). Paginated like the jobs list.",
        query=JobExecutionListQuery,
        output=list[Execution],
        tags=(*TAGS, "job"),
        response_headers=("X-Next-Cursor", "Link"),
        examples=(
            Example(
                key="history",
                given=("execution",),
                path={"id": "{jobId}"},
                output=[{"trigger": "manual", "jobId": "{jobId}"}],
            ),
            Example(key="history-empty", given=("job",), path={"id": "{jobId}"}, output=[]),
            Example(
                key="history-bad-status",
                given=("job",),
                path={"id": "{jobId}"},
                query={"status": "exploded"},
                status=400,
                output={"error": {"code": "VALIDATION_ERROR", "details": [{"field": "status"}]}},
            ),
        ),
    )
)

GET = define(
    Operation(
        key="scheduler.execution.get",
        version="1.0.0",
        kind="query",
        method="GET",
        path="/_/scheduler/executions/{id}",
        description="One execution: status, timing, the job as run (secrets masked), result or error.",
        goal="Find out exactly what a run sent and got.",
        context="Readable until it expires (EXECUTION_RETENTION_DAYS), also after its job is deleted.",
        output=Execution,
        tags=TAGS,
        examples=(
            Example(
                key="get-execution",
                given=("execution",),
                path={"id": "{executionId}"},
                output={"id": "{executionId}", "jobId": "{jobId}"},
            ),
            Example(
                key="hidden-execution",
                given=("execution",),
                path={"id": "{executionId}"},
                status=404,
                output=NOT_FOUND,
                as_user="outsider",
            ),
        ),
    )
)

LIST = define(
    Operation(
        key="scheduler.execution.list",
        version="1.0.0",
        kind="query",
        method="GET",
        path="/_/scheduler/executions",
        description="Recent executions across the caller's applications, newest first.",
        goal="Watch what the scheduler is doing.",
        context="Filters jobId, applicationId, status. Only the caller's applications.",
        query=ExecutionListQuery,
        output=list[Execution],
        tags=TAGS,
        errors={404: "the jobId or applicationId filter names one the caller may not see"},
        response_headers=("X-Next-Cursor", "Link"),
        examples=(
            Example(key="recent", given=("execution",), output=[{"jobId": "{jobId}"}]),
            Example(key="recent-outsider", given=("execution",), output=[], as_user="outsider"),
            Example(
                key="recent-hidden-application",
                given=("execution",),
                query={"applicationId": "{applicationId}"},
                status=404,
                output=NOT_FOUND,
                as_user="outsider",
            ),
        ),
    )
)

STATS = define(
    Operation(
        key="scheduler.stats.get",
        version="1.0.0",
        kind="query",
        method="GET",
        path="/_/scheduler/stats",
        description="Scheduler statistics: jobs, runs of the last 24 h by status, engine health and fire lag.",
        goal="Know whether the scheduler is healthy and on time.",
        context="Scoped to the caller's applications (admins see all). Engine figures are global.",
        output=Stats,
        tags=(*TAGS, "stats"),
        examples=(Example(key="stats", given=("job",), output={"jobs": {"total": 1, "enabled": 1}}),),
    )
)
