"""Operations on jobs: create, read, list, update, delete, enable, disable, schedule a one-off."""

from __future__ import annotations

from chalicelib.contracts.base import Example, Operation, Scenario, define
from chalicelib.contracts.models import Job, JobCreate, JobListQuery, JobScheduleInput, JobUpdate, PauseInput

TAGS = ("scheduler", "job")
HEALTH_TASK = {"endpoint": "https://status.example.com", "path": "/health"}
NOT_FOUND = {"error": {"code": "NOT_FOUND"}}
CREATE_ERRORS = {
    400: "the target is not allowed (URL_NOT_ALLOWED), or the job is not valid as a whole",
    403: "the caller may not manage the application",
    409: "the application has a job of that name",
}
RACED = {409: "the job was changed concurrently three times over; retry"}

CREATE = define(
    Operation(
        key="scheduler.job.create",
        version="1.0.0",
        kind="command",
        method="POST",
        path="/_/scheduler/jobs",
        description="Create a job that calls an HTTP endpoint on a cron pattern (or once, at runAt).",
        goal="Run an HTTP call on a schedule without running a server for it.",
        context=(
            "The pattern is read in the job's time zone. Names are unique per application. Static URLs are "
            "checked by the URL guard now; URLs with ${T…} parameters are checked again at execution."
        ),
        input=JobCreate,
        output=Job,
        status=201,
        tags=TAGS,
        errors=CREATE_ERRORS,
        request_headers=("Idempotency-Key",),
        response_headers=("Location", "ETag"),
        scenarios=(
            Scenario("create-job", ("An application exists",), ("A member creates a job",), ("201, scheduled",)),
            Scenario("duplicate-name", ("A job `nightly` exists",), ("`nightly` is created again",), ("409",)),
            Scenario("replay", ("A create with Idempotency-Key K answered",), ("K is sent again",), ("Same answer",)),
        ),
        examples=(
            Example(
                key="create-health-check",
                given=("application",),
                input={
                    "applicationId": "{applicationId}",
                    "name": "health-check",
                    "pattern": "*/5 * * * *",
                    "taskConfig": HEALTH_TASK,
                },
                status=201,
                output={
                    "name": "health-check",
                    "status": "scheduled",
                    "enabled": True,
                    "timezone": "UTC",
                    "taskType": "HttpInvokerTask",
                    "taskConfig": {"method": "GET", "timeout": 30000},
                    "createdBy": "admin",
                },
            ),
            Example(
                key="secret-masked",
                given=("application",),
                input={
                    "applicationId": "{applicationId}",
                    "name": "with-token",
                    "pattern": "0 2 * * *",
                    "taskConfig": {**HEALTH_TASK, "auth": {"authMethod": "bearer", "token": "s3cr3t"}},
                },
                status=201,
                output={"taskConfig": {"auth": {"authMethod": "bearer", "token": "********"}}},
            ),
            Example(
                key="bad-pattern",
                given=("application",),
                input={
                    "applicationId": "{applicationId}",
                    "name": "never",
                    "pattern": "0 0 30 2 *",
                    "taskConfig": HEALTH_TASK,
                },
                status=400,
                output={"error": {"code": "VALIDATION_ERROR", "details": [{"field": "pattern"}]}},
            ),
            Example(
                key="private-target-refused",
                given=("application",),
                input={
                    "applicationId": "{applicationId}",
                    "name": "metadata",
                    "pattern": "* * * * *",
                    "taskConfig": {"endpoint": "http://169.254.169.254", "path": "/latest/meta-data/"},
                },
                status=400,
                output={"error": {"code": "URL_NOT_ALLOWED", "details": [{"field": "taskConfig.endpoint"}]}},
            ),
            Example(
                key="other-tenant-forbidden",
                given=("application",),
                input={
                    "applicationId": "{applicationId}",
                    "name": "sneaky",
                    "pattern": "* * * * *",
                    "taskConfig": HEALTH_TASK,
                },
                status=403,
                output={"error": {"code": "FORBIDDEN"}},
                as_user="outsider",
            ),
            Example(
                key="duplicate-name",
                given=("job",),
                input={
                    "applicationId": "{applicationId}",
                    "name": "nightly-sync",
                    "pattern": "0 3 * * *",
                    "taskConfig": HEALTH_TASK,
                },
                status=409,
                output={"error": {"code": "CONFLICT", "details": [{"field": "name"}]}},
            ),
        ),
    )
)

SCHEDULE = define(
    Operation(
        key="scheduler.job.schedule",
        version="1.0.0",
        kind="command",
        method="POST",
        path="/_/scheduler/jobs/schedule",
        description="Schedule a job: run an HTTP call once, at a date.",
        goal="Schedule work.",
        context="Job scheduling. A one-off job runs once at runAt and then shows status `completed`.",
        input=JobScheduleInput,
        output=Job,
        status=201,
        tags=(*TAGS, "schedule"),
        errors=CREATE_ERRORS,
        request_headers=("Idempotency-Key",),
        response_headers=("Location", "ETag"),
        scenarios=(
            Scenario(
                "schedule-job-happy-path",
                ("Application exists",),
                ("User schedules job",),
                ("Job is created with status scheduled",),
            ),
        ),
        examples=(
            Example(
                key="schedule-repair",
                given=("application",),
                input={
                    "applicationId": "{applicationId}",
                    "name": "repair-2099-01-20",
                    "runAt": "2099-01-20T10:00:00Z",
                    "taskConfig": {"endpoint": "https://repairs.example.com", "method": "POST", "path": "/start"},
                },
                status=201,
                output={
                    "status": "scheduled",
                    "runAt": "2099-01-20T10:00:00.000Z",
                    "nextRunAt": "2099-01-20T10:00:00.000Z",
                },
            ),
            Example(
                key="schedule-in-past",
                given=("application",),
                input={
                    "applicationId": "{applicationId}",
                    "name": "too-late",
                    "runAt": "2001-01-01T00:00:00Z",
                    "taskConfig": HEALTH_TASK,
                },
                status=400,
                output={"error": {"code": "VALIDATION_ERROR", "details": [{"field": "runAt"}]}},
            ),
            Example(
                key="schedule-duplicate-name",
                given=("job",),
                input={
                    "applicationId": "{applicationId}",
                    "name": "nightly-sync",
                    "runAt": "2099-01-20T10:00:00Z",
                    "taskConfig": HEALTH_TASK,
                },
                status=409,
                output={"error": {"code": "CONFLICT", "details": [{"field": "name"}]}},
            ),
            Example(
                key="schedule-other-tenant",
                given=("application",),
                input={
                    "applicationId": "{applicationId}",
                    "name": "sneaky",
                    "runAt": "2099-01-20T10:00:00Z",
                    "taskConfig": HEALTH_TASK,
                },
                status=403,
                output={"error": {"code": "FORBIDDEN"}},
                as_user="outsider",
            ),
        ),
    )
)

LIST = define(
    Operation(
        key="scheduler.job.list",
        version="1.0.0",
        kind="query",
        method="GET",
        path="/_/scheduler/jobs",
        description="List jobs by id, filtered by application, enabled flag or name prefix.",
        goal="See what is scheduled.",
        context="A bare array; the next page is announced by X-Next-Cursor and Link. Only visible applications.",
        query=JobListQuery,
        output=list[Job],
        tags=TAGS,
        errors={404: "the applicationId filter names an application the caller may not see"},
        response_headers=("X-Next-Cursor", "Link"),
        examples=(
            Example(key="list-jobs", given=("job",), output=[{"name": "nightly-sync"}]),
            Example(key="outsider-sees-nothing", given=("job",), output=[], as_user="outsider"),
            Example(
                key="bad-limit",
                query={"limit": "500"},
                status=400,
                output={"error": {"code": "VALIDATION_ERROR", "details": [{"field": "limit"}]}},
            ),
            Example(
                key="hidden-application",
                given=("job",),
                query={"applicationId": "{applicationId}"},
                status=404,
                output=NOT_FOUND,
                as_user="outsider",
            ),
        ),
    )
)

GET = define(
    Operation(
        key="scheduler.job.get",
        version="1.0.0",
        kind="query",
        method="GET",
        path="/_/scheduler/jobs/{id}",
        description="Get a job by id, with its status and next run.",
        goal="Inspect one job.",
        context="Jobs of applications the caller may not see answer 404. The ETag feeds If-Match on PUT.",
        output=Job,
        tags=TAGS,
        response_headers=("ETag",),
        examples=(
            Example(key="get-job", given=("job",), path={"id": "{jobId}"}, output={"name": "nightly-sync"}),
            Example(
                key="hidden", given=("job",), path={"id": "{jobId}"}, status=404, output=NOT_FOUND, as_user="outsider"
            ),
            Example(key="missing", path={"id": "424242"}, status=404, output=NOT_FOUND),
        ),
    )
)

UPDATE = define(
    Operation(
        key="scheduler.job.update",
        version="1.0.0",
        kind="command",
        method="PUT",
        path="/_/scheduler/jobs/{id}",
        description="Update a job partially: fields replace, taskConfig keys merge, null removes.",
        goal="Change a job without resending all of it.",
        context="The merged job is validated as a whole. If-Match guards against lost updates (412).",
        input=JobUpdate,
        output=Job,
        tags=TAGS,
        errors={
            400: "the target is not allowed (URL_NOT_ALLOWED), or the merged job is not valid",
            409: "another job of the application has that name",
            412: "the job changed while this update was being written",
        },
        request_headers=("If-Match",),
        response_headers=("ETag",),
        examples=(
            Example(
                key="change-pattern",
                given=("job",),
                path={"id": "{jobId}"},
                input={"pattern": "*/10 * * * *", "description": "Check every 10 minutes instead"},
                output={"pattern": "*/10 * * * *", "description": "Check every 10 minutes instead"},
            ),
            Example(
                key="stale-if-match",
                given=("job",),
                path={"id": "{jobId}"},
                headers={"If-Match": '"0"'},
                input={"description": "x"},
                status=412,
                output={"error": {"code": "PRECONDITION_FAILED"}},
            ),
            Example(
                key="unknown-field",
                given=("job",),
                path={"id": "{jobId}"},
                input={"colour": "red"},
                status=400,
                output={"error": {"code": "VALIDATION_ERROR", "details": [{"field": "colour"}]}},
            ),
        ),
    )
)

DELETE = define(
    Operation(
        key="scheduler.job.delete",
        version="1.0.0",
        kind="command",
        method="DELETE",
        path="/_/scheduler/jobs/{id}",
        description="Delete a job; its executions stay readable until they expire.",
        goal="Stop and remove a job.",
        context="204 on success; unknown or hidden jobs answer 404.",
        output=None,
        status=204,
        tags=TAGS,
        examples=(
            Example(key="delete-job", given=("job",), path={"id": "{jobId}"}, status=204),
            Example(
                key="delete-hidden",
                given=("job",),
                path={"id": "{jobId}"},
                status=404,
                output=NOT_FOUND,
                as_user="outsider",
            ),
        ),
    )
)

ENABLE = define(
    Operation(
        key="scheduler.job.enable",
        version="1.0.0",
        kind="command",
        method="POST",
        path="/_/scheduler/jobs/{id}/enable",
        description="Enable a job; its next run is computed from now. Idempotent.",
        goal="Resume a paused job.",
        context="Answers the job.",
        output=Job,
        tags=TAGS,
        errors=RACED,
        response_headers=("ETag",),
        examples=(
            Example(
                key="enable",
                given=("disabled job",),
                path={"id": "{jobId}"},
                output={"enabled": True, "status": "scheduled"},
            ),
        ),
    )
)

DISABLE = define(
    Operation(
        key="scheduler.job.disable",
        version="1.0.0",
        kind="command",
        method="POST",
        path="/_/scheduler/jobs/{id}/disable",
        description="Disable a job; it stops running until enabled, or until `until` when given. Idempotent.",
        goal="Pause a job without deleting it, for good or for a while (a maintenance window).",
        context='Answers the job with status `paused` and nextRunAt null. With a body `{"until", "reason"}` the '
        "job shows `pausedUntil` and `pausedReason` and resumes by itself within 10 s of `until`; the slots it "
        "missed follow its misfirePolicy. An `until` in the past is a 400.",
        input=PauseInput,
        optional_body=True,
        output=Job,
        tags=TAGS,
        errors=RACED,
        response_headers=("ETag",),
        examples=(
            Example(
                key="disable",
                given=("job",),
                path={"id": "{jobId}"},
                output={"enabled": False, "status": "paused", "nextRunAt": None},
            ),
            Example(
                key="pause-until",
                given=("job",),
                path={"id": "{jobId}"},
                input={"until": "2999-01-01T00:00:00Z", "reason": "vendor maintenance"},
                output={
                    "status": "paused",
                    "pausedUntil": "2999-01-01T00:00:00.000Z",
                    "pausedReason": "vendor maintenance",
                },
            ),
            Example(
                key="until-in-the-past",
                given=("job",),
                path={"id": "{jobId}"},
                input={"until": "2001-01-01T00:00:00Z"},
                output={"error": {"code": "VALIDATION_ERROR", "details": [{"field": "until"}]}},
                status=400,
            ),
        ),
    )
)
