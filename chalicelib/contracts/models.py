"""Pydantic models at the API boundary: what clients send and what they get back."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from chalicelib.engine import cron

MASK = "********"
SLUG = r"^[a-z0-9][a-z0-9-]{1,62}$"
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$")
FORBIDDEN_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "te", "upgrade"})
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
NO_BODY_METHODS = ("GET", "HEAD")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --- errors -------------------------------------------------------------------------------------


class ErrorDetail(Strict):
    field: str
    message: str


class ErrorInfo(Strict):
    code: str = Field(examples=["VALIDATION_ERROR"])
    message: str
    details: list[ErrorDetail] = []


class ErrorResponse(Strict):
    error: ErrorInfo


# --- applications -------------------------------------------------------------------------------


class ApplicationCreate(Strict):
    name: Annotated[str, Field(pattern=SLUG, description="Unique slug, e.g. `crm`.")]
    displayName: Annotated[str, Field(min_length=1, max_length=128)]


class Application(Strict):
    id: int
    name: str
    displayName: str


# --- task configuration -------------------------------------------------------------------------


class BearerAuth(Strict):
    authMethod: Literal["bearer"]
    token: Annotated[str, Field(min_length=1, max_length=4096)]


class BasicAuth(Strict):
    authMethod: Literal["basic"]
    username: Annotated[str, Field(min_length=1, max_length=256)]
    password: Annotated[str, Field(max_length=1024)]


class ApiKeyAuth(Strict):
    authMethod: Literal["apiKey"]
    headerName: Annotated[str, Field(pattern=HEADER_NAME.pattern)]
    key: Annotated[str, Field(min_length=1, max_length=4096)]


TaskAuth = Annotated[BearerAuth | BasicAuth | ApiKeyAuth, Field(discriminator="authMethod")]
AUTH_SECRET_FIELDS = ("token", "password", "key")


class TaskConfig(Strict):
    """Where and how to call. Either `endpoint` (+ `path`) or `url`; both may hold `${T…}` parameters."""

    endpoint: Annotated[str | None, Field(max_length=2048, description="Base URL, e.g. https://api.example.com")] = None
    path: Annotated[str | None, Field(max_length=2048, description="Path appended to endpoint; default `/`.")] = None
    url: Annotated[str | None, Field(max_length=4096, description="Full URL, instead of endpoint + path.")] = None
    method: Annotated[str, Field(description="GET, POST, PUT, PATCH, DELETE or HEAD")] = "GET"
    body: Any = Field(default=None, description="JSON body (POST/PUT/PATCH/DELETE).")
    headers: dict[str, str] | None = None
    auth: TaskAuth | None = None
    timeout: Annotated[int, Field(ge=1000, le=900_000, description="Milliseconds")] = 30_000

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        upper = value.upper()
        if upper not in HTTP_METHODS:
            raise ValueError(f"must be one of {', '.join(HTTP_METHODS)}")
        return upper

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for name, text in (value or {}).items():
            if not HEADER_NAME.match(name):
                raise ValueError(f"'{name}' is not a valid header name")
            if name.lower() in FORBIDDEN_HEADERS:
                raise ValueError(f"'{name}' is set by the scheduler and cannot be configured")
            if "\r" in text or "\n" in text or len(text) > 8192:
                raise ValueError(f"value of '{name}' must be one line of at most 8192 characters")
        return value

    @model_validator(mode="after")
    def _target(self) -> TaskConfig:
        if self.url is not None and (self.endpoint is not None or self.path is not None):
            raise ValueError("give either url, or endpoint and path, not both")
        if self.url is None and self.endpoint is None:
            raise ValueError("endpoint (or url) is required")
        if self.url is None and self.path is None:
            self.path = "/"
        if self.body is not None and self.method in NO_BODY_METHODS:
            raise ValueError(f"a {self.method} request cannot carry a body")
        return self


class TaskConfigOut(TaskConfig):
    """As stored, with secrets replaced by `********`."""


# --- jobs ---------------------------------------------------------------------------------------


class Backoff(Strict):
    initialSeconds: int = Field(default=2, ge=1, le=900, description="First retry waits up to this long")
    maxSeconds: int = Field(default=300, ge=1, le=900, description="No retry waits longer (SQS delay ≤ 900 s)")

    @model_validator(mode="after")
    def _ordered(self) -> Backoff:
        if self.initialSeconds > self.maxSeconds:
            raise ValueError("initialSeconds must not exceed maxSeconds")
        return self


class RetryPolicy(Strict):
    """Retries of timeouts, connection errors, 429 and 5xx: exponential backoff with full jitter."""

    maxAttempts: int = Field(default=3, ge=1, le=10, description="Attempts in all, the first included")
    backoff: Backoff = Field(default_factory=Backoff)


JobName = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")]


def _zone(value: str) -> str:
    cron.zone(value)
    return value


def _cron(value: str) -> str:
    cron.validate(value)
    return " ".join(value.split())


TimeZone = Annotated[str, Field(max_length=64), AfterValidator(_zone)]
CronPattern = Annotated[str, Field(max_length=256), AfterValidator(_cron)]


class JobSpec(Strict):
    """The fields a client writes; the merged result of a PUT is validated as one of these.

    Exactly one of `pattern` and `runAt` is required (checked by the jobs service, which names the field).
    """

    applicationId: int = Field(ge=1, lt=2**53)
    name: JobName
    description: Annotated[str | None, Field(max_length=2000)] = None
    enabled: bool = True
    pattern: Annotated[
        CronPattern | None, Field(description="5-field cron (or 6 with leading seconds), read in `timezone`.")
    ] = None
    runAt: AwareDatetime | None = Field(default=None, description="One-off run at this instant (ISO-8601).")
    timezone: Annotated[TimeZone, Field(description="IANA zone, default UTC")] = "UTC"
    taskType: Literal["HttpInvokerTask"] = "HttpInvokerTask"
    taskConfig: TaskConfig
    retryPolicy: RetryPolicy = Field(default_factory=RetryPolicy)
    misfirePolicy: Literal["fire_once", "skip"] = Field(
        default="fire_once",
        description="For slots missed while the engine was down: one run now (fire_once), or none (skip).",
    )
    concurrencyPolicy: Literal["allow", "forbid"] = Field(
        default="allow", description="forbid: a slot whose previous run is still pending or running is skipped."
    )


class JobCreate(JobSpec):
    pass


class JobUpdate(Strict):
    """Partial update: top-level fields replace, `taskConfig` keys merge one level deep, null removes."""

    applicationId: int | None = None
    name: JobName | None = None
    description: str | None = None
    enabled: bool | None = None
    pattern: str | None = None
    runAt: str | None = None
    timezone: str | None = None
    taskType: str | None = None
    taskConfig: dict[str, Any] | None = None
    retryPolicy: dict[str, Any] | None = None
    misfirePolicy: str | None = None
    concurrencyPolicy: str | None = None


class JobScheduleInput(Strict):
    """A one-off job: run once at `runAt`."""

    applicationId: int = Field(ge=1, lt=2**53)
    name: JobName
    description: Annotated[str | None, Field(max_length=2000)] = None
    runAt: AwareDatetime
    timezone: Annotated[str, Field(max_length=64)] = "UTC"
    taskConfig: TaskConfig
    retryPolicy: RetryPolicy = Field(default_factory=RetryPolicy)


class ApplicationRef(Strict):
    id: int
    name: str
    displayName: str


class Job(Strict):
    id: int
    application: ApplicationRef
    name: str
    description: str | None = None
    enabled: bool
    pattern: str | None = None
    runAt: str | None = None
    timezone: str
    taskType: Literal["HttpInvokerTask"]
    taskConfig: TaskConfigOut
    retryPolicy: RetryPolicy
    misfirePolicy: Literal["fire_once", "skip"]
    concurrencyPolicy: Literal["allow", "forbid"]
    status: Literal["scheduled", "paused", "completed"]
    nextRunAt: str | None
    createdAt: str
    createdBy: str | None = None
    updatedAt: str
    updatedBy: str | None = None


# --- queries ------------------------------------------------------------------------------------


class Page(Strict):
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = None


class JobListQuery(Page):
    applicationId: int | None = Field(default=None, ge=1)
    enabled: bool | None = None
    name: Annotated[str | None, Field(max_length=128, description="Name prefix")] = None


class ApplicationListQuery(Page):
    pass


class Health(Strict):
    status: Literal["ok"]


# --- executions and stats -----------------------------------------------------------------------

ExecutionStatus = Literal["pending", "running", "succeeded", "failed"]


class ExecutionError(BaseModel):
    code: str
    message: str
    stack: str | None = None


class Execution(Strict):
    id: int
    jobId: int
    applicationId: int
    status: ExecutionStatus
    trigger: Literal["schedule", "manual"]
    scheduledFor: str = Field(description="The slot this run belongs to (the trigger time for a manual run).")
    attempt: int
    attempts: list[dict[str, Any]] | None = Field(default=None, description="One entry per attempt: at, error")
    startedAt: str | None
    finishedAt: str | None
    durationMs: int | None = None
    lagMs: int | None = Field(default=None, description="Start minus slot, in milliseconds.")
    missedSlots: int | None = Field(default=None, description="Slots skipped while the engine was behind.")
    jobSnapshot: dict[str, Any] | None = Field(default=None, description="The job as run: resolved, masked.")
    result: dict[str, Any] | None = None
    error: ExecutionError | None = None
    createdAt: str
    createdBy: str | None = None


class JobExecutionListQuery(Page):
    status: ExecutionStatus | None = None
    from_: AwareDatetime | None = Field(default=None, alias="from", description="Slots at or after (ISO-8601)")
    to: AwareDatetime | None = Field(default=None, description="Slots at or before (ISO-8601)")


class ExecutionListQuery(Page):
    jobId: int | None = Field(default=None, ge=1)
    applicationId: int | None = Field(default=None, ge=1)
    status: ExecutionStatus | None = None


class JobCounts(Strict):
    total: int
    enabled: int


class ExecutionCounts(Strict):
    last24h: dict[str, int] = Field(
        description="Finished runs by status (hourly buckets); `skipped` counts dispatched slots that did not run:"
        " concurrencyPolicy forbid, or the job disabled, deleted or rescheduled after dispatch."
    )
    pending: int
    running: int


class FireLag(Strict):
    p50: int | None
    p95: int | None
    p99: int | None
    samples: int


class EngineStats(Strict):
    lastTickAt: str | None
    lastTickDurationMs: int | None
    lastTickDispatched: int | None
    backlog: int = Field(description="Runs pending for more than a minute after their slot.")
    fireLagMs: FireLag


class Stats(Strict):
    jobs: JobCounts
    executions: ExecutionCounts
    engine: EngineStats


# --- cron preview and browser sessions ------------------------------------------------------------


class CronPreviewRequest(Strict):
    pattern: Annotated[CronPattern, Field(description="5-field cron, or 6 with a leading seconds field.")]
    timezone: Annotated[TimeZone, Field(description="IANA zone the pattern is read in.")] = "UTC"
    count: Annotated[int, Field(ge=1, le=20, description="How many next runs to list.")] = 5


class CronPreview(BaseModel):
    description: str = Field(description='In words, e.g. "At 02:00 AM, Monday through Friday".')
    next: list[str] = Field(description="The next runs, ISO 8601 with the zone's offset, as the engine fires them.")


class SessionCreate(Strict):
    token: Annotated[str, Field(min_length=1, max_length=8192, description="A JWT this service accepts.")]


class Session(BaseModel):
    user: str
    admin: bool
    apps: list[str] = Field(description="Applications the user manages (all of them for an admin).")
    expiresAt: str | None = None
