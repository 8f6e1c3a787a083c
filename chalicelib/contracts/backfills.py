"""Backfill: re-run a job's past slots, paced, each (job, slot) still run once."""

from __future__ import annotations

from chalicelib.contracts.base import Example, Operation, Scenario, define
from chalicelib.contracts.models import Backfill, BackfillInput

TAGS = ("scheduler", "backfill")
CONTEXT = "Members of the job's application and admins; other tenants get 404."

CREATE = define(
    Operation(
        key="scheduler.job.backfill",
        version="1.0.0",
        kind="command",
        method="POST",
        path="/_/scheduler/jobs/{id}/backfill",
        description="Run the job once for each slot of its schedule in [from, to), paced at perMinute.",
        goal="Re-run a range of past slots after an outage or a fix (a daily sync for last week).",
        context=CONTEXT + " Past slots only; disabled jobs may be backfilled. A slot that already has a run is "
        "skipped and counted. Runs have trigger `backfill`, follow the job's concurrencyPolicy and retry policy, "
        "and resolve ${T±N:FORMAT} relative to the slot they stand for.",
        input=BackfillInput,
        output=Backfill,
        status=202,
        tags=(*TAGS, "job"),
        errors={
            400: "from/to/maxRuns do not describe past slots of the schedule (the answer names the field)",
            503: "the run queue is not reachable; the backfill was not started",
        },
        response_headers=("Location",),
        scenarios=(
            Scenario("re-run", ("A daily job missed March 3-5",), ("they are backfilled",), ("3 runs, March dates",)),
        ),
        examples=(
            Example(
                key="a-past-day",
                given=("job",),
                path={"id": "{jobId}"},
                input={"from": "2026-03-03T00:00:00Z", "to": "2026-03-04T00:00:00Z"},
                output={"total": 1, "skipped": 0, "status": "running"},
                status=202,
            ),
            Example(
                key="future-refused",
                given=("job",),
                path={"id": "{jobId}"},
                input={"from": "2020-01-01T00:00:00Z", "to": "2999-01-01T00:00:00Z"},
                output={"error": {"code": "VALIDATION_ERROR", "details": [{"field": "to"}]}},
                status=400,
            ),
            Example(
                key="other-tenant",
                given=("job",),
                path={"id": "{jobId}"},
                input={"from": "2020-01-01T00:00:00Z", "to": "2020-01-02T00:00:00Z"},
                output={"error": {"code": "NOT_FOUND"}},
                status=404,
                as_user="outsider",
            ),
        ),
    )
)

GET = define(
    Operation(
        key="scheduler.backfill.get",
        version="1.0.0",
        kind="query",
        method="GET",
        path="/_/scheduler/backfills/{id}",
        description="A backfill's progress: its slots counted by state.",
        goal="Watch a backfill run to its end.",
        context=CONTEXT,
        output=Backfill,
        tags=TAGS,
        examples=(Example(key="missing", path={"id": "987654"}, output={"error": {"code": "NOT_FOUND"}}, status=404),),
    )
)

CANCEL = define(
    Operation(
        key="scheduler.backfill.cancel",
        version="1.0.0",
        kind="command",
        method="DELETE",
        path="/_/scheduler/backfills/{id}",
        description="Cancel what has not started; runs already started finish.",
        goal="Stop a backfill that turned out wrong.",
        context=CONTEXT + " Answers the backfill as cancelled. Idempotent.",
        output=Backfill,
        tags=TAGS,
        examples=(Example(key="missing", path={"id": "987654"}, output={"error": {"code": "NOT_FOUND"}}, status=404),),
    )
)
