"""Pydantic models at the API boundary: what clients send and what they get back."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    create_model,
    model_validator,
)

from chalicelib import cron
from chalicelib.codes import JobStatus, Trigger
from chalicelib.codes import Status as ExecutionStatus
from chalicelib.contracts import headers as header_rules
from chalicelib.contracts import json_values

MASK = "********"
SLUG = r"^[a-z0-9][a-z0-9-]{1,62}$"
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
NO_BODY_METHODS = ("GET", "HEAD")
HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]


class Strict(BaseModel):
    """What clients send: unknown fields refused, and no coercion (`"5000"` is not an integer, `"yes"` not a
    boolean, `"get"` not a method)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)


class Lax(BaseModel):
    """Query strings (every value arrives as text) and what the service answers."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


ISO_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}.*")


def _iso_text(value: Any) -> Any:
    if not isinstance(value, str) or not ISO_DATE_TIME.fullmatch(value):
        raise ValueError("must be an ISO 8601 date-time string with a zone, e.g. 2026-01-20T10:00:00Z")
    return value


# A timestamp a client sends: ISO 8601 text with an offset, never an epoch number.
IsoDateTime = Annotated[AwareDatetime, Field(strict=False), BeforeValidator(_iso_text)]

RFC_3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def _rfc_3339_text(value: Any) -> Any:
    if not isinstance(value, str) or not RFC_3339.fullmatch(value):
        raise ValueError(f"must be an RFC 3339 date-time string, not {str(value)[:40]!r}")
    return value


# A timestamp the service answers: RFC 3339 text (`format: date-time` in the document, a datetime in generated
# clients), checked as such whenever responses are validated (VALIDATE_RESPONSES).
Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc_3339_text)]


# --- errors -------------------------------------------------------------------------------------


class ErrorDetail(Lax):
    field: str
    message: str


class ErrorInfo(Lax):
    code: str = Field(examples=["VALIDATION_ERROR"])
    message: str
    details: list[ErrorDetail] = []


class ErrorResponse(Lax):
    error: ErrorInfo


# --- applications -------------------------------------------------------------------------------


class ApplicationCreate(Strict):
    name: Annotated[str, Field(pattern=SLUG, description="Unique slug, e.g. `crm`.")]
    displayName: Annotated[str, Field(min_length=1, max_length=128)]


class Application(Lax):
    id: int
    name: str
    displayName: str


class FirstSigningKey(Lax):
    """The application's first signing key, shown once, in the answer that created the application."""

    id: str
    type: Literal["hmac"]
    secret: str = Field(description="`whsec_…`: shown this once; create another key to learn a new one.")


class ApplicationCreated(Application):
    signingKey: FirstSigningKey


# --- signing keys -------------------------------------------------------------------------------

KEY_ID_FORM = "key_[0-9a-f]{16}"
SigningKeyType = Literal["hmac", "ed25519"]


class SigningKeyCreate(Strict):
    type: SigningKeyType = Field(
        default="hmac",
        description="`hmac`: a shared `whsec_…` secret (signatures `v1,…`); `ed25519`: a key pair whose public key "
        "targets fetch (signatures `v1a,…`), the private key never leaving the server.",
    )
    expiresAt: IsoDateTime | None = Field(default=None, description="It stops signing then; null: never.")


class SigningKey(Lax):
    id: str
    type: SigningKeyType
    createdAt: Timestamp
    expiresAt: Timestamp | None
    publicKey: str | None = Field(default=None, description="ed25519 only: `whpk_` + base64 of the 32-byte key.")


class SigningKeyCreated(SigningKey):
    secret: str | None = Field(default=None, description="hmac only: `whsec_…`, shown this once.")


class PublicKey(Lax):
    id: str
    publicKey: str


# --- task configuration -------------------------------------------------------------------------


def _stored(info: ValidationInfo) -> bool:
    """Whether the value is read back from the store (`context={"stored": True}`): it was checked when written
    (by the rules of its day: a job stored before a rule still loads, and its run ends with a code), and the
    expensive checks (cron, zones) are not repeated on every read."""
    return bool(info.context and info.context.get("stored"))


def _header_name(name: str, info: ValidationInfo) -> str:
    if _stored(info):
        return name
    problem = header_rules.name_problem(name)
    if problem:
        raise ValueError(problem)
    return name


def _header_value(value: str, info: ValidationInfo) -> str:
    if _stored(info):
        return value
    problem = header_rules.value_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _token(value: str, info: ValidationInfo) -> str:
    if not _stored(info) and not header_rules.TOKEN68.fullmatch(value):
        raise ValueError("must be printable ASCII without spaces or control characters")
    return value


def _text(value: str, info: ValidationInfo) -> str:
    problem = None if _stored(info) else header_rules.text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _user_name(value: str, info: ValidationInfo) -> str:
    if ":" in value and not _stored(info):
        raise ValueError("must not contain ':' (it separates the user name from the password in basic auth)")
    return _text(value, info)


HeaderName = Annotated[str, AfterValidator(_header_name)]
HeaderValue = Annotated[str, AfterValidator(_header_value)]


def _json_body(value: Any, info: ValidationInfo) -> Any:
    if not _stored(info):
        json_values.check(value)
    return value


class BearerAuth(Strict):
    authMethod: Literal["bearer"]
    token: Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(_token)]


class BasicAuth(Strict):
    authMethod: Literal["basic"]
    username: Annotated[str, Field(min_length=1, max_length=256), AfterValidator(_user_name)]
    password: Annotated[str, Field(max_length=1024), AfterValidator(_text)]


class ApiKeyAuth(Strict):
    authMethod: Literal["apiKey"]
    headerName: HeaderName
    key: Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(_header_value)]


TaskAuth = Annotated[BearerAuth | BasicAuth | ApiKeyAuth, Field(discriminator="authMethod")]
AUTH_SECRET_FIELDS = ("token", "password", "key")
AUTH_HEADER = "Authorization"


def auth_header_name(auth: dict[str, Any] | None) -> str | None:
    """The header a job's `auth` sets (Authorization, or the apiKey's own header)."""
    if not auth:
        return None
    return str(auth["headerName"]) if auth.get("authMethod") == "apiKey" else AUTH_HEADER


StatusClass = Literal["1xx", "2xx", "3xx", "4xx", "5xx"]
StatusMatch = Annotated[int, Field(ge=100, le=599)] | StatusClass
JSON_POINTER = r"^(/([^~/]|~[01])*)*$"  # RFC 6901
MAX_EXPECTED_JSON = 1024


def _expected_value(value: Any, info: ValidationInfo) -> Any:
    if not _stored(info):
        json_values.check(value)
        if len(json_values.dumps(value)) > MAX_EXPECTED_JSON:
            raise ValueError(f"must be at most {MAX_EXPECTED_JSON} characters as JSON")
    return value


class JsonExpectation(Strict):
    pointer: Annotated[str, Field(max_length=1024, pattern=JSON_POINTER, description="RFC 6901, e.g. `/status`")]
    equals: Annotated[Any, AfterValidator(_expected_value)] = Field(
        default=None, description="The JSON value it must equal (null when omitted)."
    )


class Expect(Strict):
    """What a good answer is; an answer that misses any criterion fails the run with UNEXPECTED_RESPONSE."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True, serialize_by_alias=True)

    status: Annotated[
        list[StatusMatch] | None,
        Field(min_length=1, max_length=50, description='Codes and classes (`"2xx"`); default `["2xx"]`.'),
    ] = None
    bodyContains: Annotated[
        str | None, Field(min_length=1, max_length=256, description="A substring of the kept body excerpt.")
    ] = None
    json_: Annotated[JsonExpectation | None, Field(alias="json")] = None


class TaskConfig(Strict):
    """Where and how to call. Either `endpoint` (+ `path`) or `url`; both may hold `${T…}` parameters."""

    endpoint: Annotated[str | None, Field(max_length=2048, description="Base URL, e.g. https://api.example.com")] = None
    path: Annotated[str | None, Field(max_length=2048, description="Path appended to endpoint; default `/`.")] = None
    url: Annotated[str | None, Field(max_length=4096, description="Full URL, instead of endpoint + path.")] = None
    method: Annotated[HttpMethod, Field(description="GET, POST, PUT, PATCH, DELETE or HEAD (upper case)")] = "GET"
    body: Annotated[Any, AfterValidator(_json_body)] = Field(
        default=None, description="JSON body (POST/PUT/PATCH/DELETE)."
    )
    headers: Annotated[dict[HeaderName, HeaderValue] | None, Field(max_length=100)] = None
    secretHeaders: Annotated[
        list[HeaderName] | None,
        Field(
            max_length=100,
            description="More header names to treat as credentials (masked, never sent to another origin), beyond "
            "the built-in rule: any name containing auth, token, key, secret, pass, pwd, cookie, session, "
            "signature, jwt, bearer, otp, pin, csrf, cert or credential.",
        ),
    ] = None
    auth: TaskAuth | None = None
    timeout: Annotated[int, Field(ge=1000, le=900_000, description="Milliseconds")] = 30_000
    sign: bool = Field(
        default=True,
        description="Sign every request with the application's keys (Standard Webhooks `webhook-*` headers).",
    )
    expect: Expect | None = None

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


def header_conflicts(config: TaskConfig) -> list[dict[str, str]]:
    """Headers a request would carry twice: names equal but for case, or a header `auth` also sets."""
    auth_header = auth_header_name(config.auth.model_dump() if config.auth else None)
    problems: list[dict[str, str]] = []
    seen: dict[str, str] = {}
    for name in config.headers or {}:
        lower = name.lower()
        if lower in seen:
            message = f"duplicates header '{seen[lower]}' (header names are case-insensitive)"
            problems.append({"field": f"taskConfig.headers.{name}", "message": message})
        elif auth_header is not None and lower == auth_header.lower():
            message = "is also set by taskConfig.auth; give it in one place"
            problems.append({"field": f"taskConfig.headers.{name}", "message": message})
        seen[lower] = name
    return problems


class TaskConfigOut(TaskConfig):
    """As stored, with secrets replaced by `********`."""

    model_config = ConfigDict(strict=False)


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


class AlertRule(Strict):
    """When a job's runs alert the application's channels (every finished run counts, enabled or not)."""

    afterFailures: int = Field(
        default=1, ge=1, le=100, description="Consecutive failed runs that make the job `failing` (one alert)."
    )
    lateAfterSeconds: int | None = Field(
        default=None,
        ge=10,
        le=86_400,
        description="A slot whose run has not started this long after its time sends one `late` alert; null: never.",
    )


JobName = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")]


def _zone(value: str, info: ValidationInfo) -> str:
    if not _stored(info):
        cron.zone(value)
    return value


def _cron(value: str, info: ValidationInfo) -> str:
    if _stored(info):
        return value
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
    runAt: IsoDateTime | None = Field(default=None, description="One-off run at this instant (ISO-8601).")
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
    jitterSeconds: Annotated[
        int | None,
        Field(
            ge=0,
            le=3600,
            description="Each scheduled run starts at a deterministic offset in [0, jitterSeconds) after its slot, "
            "derived from (job, slot); less than the schedule's shortest interval.",
        ),
    ] = None
    startAt: IsoDateTime | None = Field(default=None, description="No slot before this instant (inclusive).")
    endAt: IsoDateTime | None = Field(
        default=None, description="No slot at or after this instant; after it the job is `completed`."
    )

    alerts: AlertRule | None = Field(
        default=None, description="When to alert the application's channels about this job; none without it."
    )


class PauseInput(Strict):
    """An optional body of disable: pause until a time (it resumes by itself then), and why."""

    until: IsoDateTime | None = Field(default=None, description="It resumes by itself then (within 10 s).")
    reason: Annotated[str, Field(max_length=500), AfterValidator(_text)] | None = None


class JobCreate(JobSpec):
    pass


def partial(model: type[BaseModel], name: str, doc: str, **replaced: Any) -> type[Strict]:
    """`model`'s fields, none required and each nullable (null removes it), with the same rules for a value
    given; `replaced` gives a field another type. A field added to `model` is in the partial model at once."""
    fields: dict[str, Any] = {}
    for key, info in model.model_fields.items():
        annotation: Any = replaced.get(key) or info.annotation
        if key not in replaced and info.metadata:
            annotation = Annotated[(annotation, *info.metadata)]  # its constraints and validators
        if info.discriminator is not None:
            annotation = Annotated[annotation, Field(discriminator=info.discriminator)]
        fields[key] = (annotation | None, Field(default=None, description=info.description))
    partial_model: type[Strict] = create_model(name, __base__=Strict, __doc__=doc, **fields)
    return partial_model


TaskConfigUpdate = partial(
    TaskConfig, "TaskConfigUpdate", "Keys of `taskConfig` to change: each given key replaces, null removes it."
)
JobUpdate = partial(
    JobSpec,
    "JobUpdate",
    "Partial update: top-level fields replace, `taskConfig` keys merge one level deep, null removes. The merged "
    "job is checked as a whole, as on create.",
    taskConfig=TaskConfigUpdate,
)


class JobScheduleInput(Strict):
    """A one-off job: run once at `runAt`."""

    applicationId: int = Field(ge=1, lt=2**53)
    name: JobName
    description: Annotated[str | None, Field(max_length=2000)] = None
    runAt: IsoDateTime
    timezone: Annotated[TimeZone, Field(description="IANA zone, default UTC")] = "UTC"
    taskConfig: TaskConfig
    retryPolicy: RetryPolicy = Field(default_factory=RetryPolicy)


class BackfillInput(Strict):
    """Re-run the job's past slots in [from, to), paced."""

    from_: IsoDateTime = Field(alias="from", description="The first instant (inclusive).")
    to: IsoDateTime = Field(description="The end (exclusive); not in the future.")
    maxRuns: int = Field(default=100, ge=1, le=1000, description="A range holding more slots is refused.")
    perMinute: int = Field(default=60, ge=1, le=600, description="Runs started per minute.")


class Backfill(Lax):
    id: int
    jobId: int
    from_: Timestamp = Field(alias="from")
    to: Timestamp
    status: Literal["running", "done", "cancelled"]
    perMinute: int
    maxRuns: int
    total: int = Field(description="Slots of the schedule in [from, to).")
    queued: int = Field(description="Not started yet (not dispatched, or pending).")
    running: int
    succeeded: int
    failed: int
    skipped: int = Field(description="Slots that already had a run: never run twice.")
    cancelled: int = Field(description="Slots the cancel stopped before they started.")
    createdAt: Timestamp
    createdBy: str | None = None


class LastRun(Lax):
    id: int
    status: ExecutionStatus
    scheduledFor: Timestamp
    finishedAt: Timestamp | None = None


class UpcomingRun(Lax):
    at: Timestamp = Field(description="The slot, ISO 8601 UTC.")
    local: Timestamp = Field(description="The same instant in the job's time zone, with its offset.")


HealthState = Literal["ok", "failing", "late", "unknown"]


class JobHealth(Lax):
    """What the job's newest runs say (the newest 20 records, one read): `late` when its newest slot past
    `alerts.lateAfterSeconds` has not started; `failing` when its newest runs failed (as many as
    `alerts.afterFailures`, default 1); `ok` when a run counts and neither holds; `unknown` with no finished run."""

    state: HealthState
    consecutiveFailures: int = Field(description="Failed runs since the last success (at most the 20 read).")
    since: Timestamp | None = Field(description="The slot of the first of those failed runs; null when none failed.")
    lastSuccessAt: Timestamp | None = Field(description="When the newest succeeded run among them finished.")


class Job(Lax):
    id: int
    application: Application
    name: str
    description: str | None = None
    enabled: bool
    pattern: str | None = None
    runAt: Timestamp | None = None
    timezone: str
    taskType: Literal["HttpInvokerTask"]
    taskConfig: TaskConfigOut
    retryPolicy: RetryPolicy
    misfirePolicy: Literal["fire_once", "skip"]
    concurrencyPolicy: Literal["allow", "forbid"]
    jitterSeconds: int | None = None
    startAt: Timestamp | None = None
    endAt: Timestamp | None = None
    alerts: AlertRule | None = None
    health: JobHealth | None = Field(
        default=None, description="Only on GET /jobs/{id} and the list: derived from the job's newest runs."
    )
    status: JobStatus
    nextRunAt: Timestamp | None
    pausedUntil: Timestamp | None = Field(default=None, description="A job paused until a time: it resumes then.")
    pausedReason: str | None = None
    lastRun: LastRun | None = Field(
        default=None, description="Only with `include=lastRun` on the list: the newest run."
    )
    upcoming: list[UpcomingRun] | None = Field(
        default=None,
        description="Only on GET /jobs/{id}: the next slots from the schedule (nothing is stored for them).",
    )
    variables: list[str] | None = Field(
        default=None,
        description="The variables (`${NAME}`) the job refers to, by name, secret places included; absent if none.",
    )
    createdAt: Timestamp
    createdBy: str | None = None
    updatedAt: Timestamp
    updatedBy: str | None = None
    droppedCredentials: list[str] | None = Field(
        default=None,
        description="Only in an update's answer: stored credentials (auth, credential headers) dropped because the "
        "target moved to another scheme, host or port and the request did not supply them again.",
    )


# --- variables ----------------------------------------------------------------------------------

VARIABLE_FORM = r"[A-Z][A-Z0-9_]{0,63}"  # a variable's name, as `${NAME}` and in paths
VARIABLE_NAME = rf"^{VARIABLE_FORM}$"


class VariableInput(Strict):
    value: Annotated[
        str,
        Field(max_length=4096, description="Inserted as written wherever the job says `${NAME}`."),
        AfterValidator(_text),
    ]
    secret: bool = Field(
        default=False, description="Write-only: masked in every response, run record, event and log line."
    )


class Variable(Lax):
    name: str
    value: str = Field(description="`********` when the variable is secret.")
    secret: bool
    updatedAt: Timestamp
    updatedBy: str | None = None


# --- alert channels -----------------------------------------------------------------------------

ChannelType = Literal["webhook", "slack"]
AlertEvent = Literal["failing", "recovered", "late"]
AlertType = Literal["failing", "recovered", "late", "test"]
ChannelName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]
ChannelUrl = Annotated[str, Field(min_length=1, max_length=2048, description="http(s); passes the URL guard.")]
ALERT_EVENTS: tuple[AlertEvent, ...] = ("failing", "recovered", "late")


def _events(value: list[str]) -> list[str]:
    if len(set(value)) != len(value):
        raise ValueError("lists an event twice")
    return value


Events = Annotated[list[AlertEvent], Field(min_length=1, max_length=3), AfterValidator(_events)]


class ChannelCreate(Strict):
    name: ChannelName
    type: ChannelType = Field(
        description="`webhook`: a JSON alert signed with the application's keys (Standard Webhooks); `slack`: an "
        "incoming-webhook `{text}`."
    )
    url: ChannelUrl = Field(
        description="A secret (Slack's are): shown in this answer only, then masked after its host."
    )
    events: Events = Field(default_factory=lambda: list(ALERT_EVENTS), description="Which alerts it receives.")


class ChannelUpdate(Strict):
    """Partial: each given field replaces; `url` given as its masked form keeps the stored one."""

    name: ChannelName | None = None
    type: ChannelType | None = None
    url: ChannelUrl | None = None
    events: Events | None = None


class Channel(Lax):
    id: int
    applicationId: int
    name: str
    type: ChannelType
    url: str = Field(description="Masked after its host (`https://hooks.slack.com/********`), except at create.")
    events: list[AlertEvent]
    createdAt: Timestamp
    createdBy: str | None = None
    updatedAt: Timestamp
    updatedBy: str | None = None


class DeliveryError(Lax):
    code: str
    message: str


class ChannelTestResult(Lax):
    status: int | None = Field(description="The receiver's HTTP status; null when no answer came (see `error`).")
    error: DeliveryError | None = None


class Delivery(Lax):
    id: str = Field(description="The alert's id (its `webhook-id`): the same on every attempt of one alert.")
    type: AlertType
    at: Timestamp
    status: Literal["delivered", "failed"]
    httpStatus: int | None = None
    error: DeliveryError | None = None
    attempt: int = Field(description="1, 2, …: a failed delivery is retried with backoff, up to 5 attempts.")


# --- queries ------------------------------------------------------------------------------------


class Page(Lax):
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = None


class JobListQuery(Page):
    applicationId: int | None = Field(default=None, ge=1)
    enabled: bool | None = None
    name: Annotated[str | None, Field(max_length=128, description="Name prefix")] = None
    include: Literal["lastRun"] | None = Field(
        default=None, description="`lastRun`: each job carries its newest run (one request for a list page)."
    )
    health: HealthState | None = Field(
        default=None,
        description="Only jobs in this health state, among the `limit` jobs the page reads: a page may hold fewer "
        "(X-Next-Cursor goes on after the last job read).",
    )


class ApplicationListQuery(Page):
    pass


class Health(Lax):
    status: Literal["ok"]


# --- executions and stats -----------------------------------------------------------------------


class ExecutionError(BaseModel):
    code: str
    message: str
    stack: str | None = None


class Attempt(BaseModel):
    at: Timestamp = Field(description="When the attempt started.")
    error: ExecutionError | None = None


class Execution(Lax):
    id: int
    jobId: int
    applicationId: int
    status: ExecutionStatus
    trigger: Trigger
    scheduledFor: Timestamp = Field(description="The slot this run belongs to (the trigger time for a manual run).")
    plannedAt: Timestamp | None = Field(
        default=None, description="When it was to start: the slot plus the job's jitter offset (else the slot)."
    )
    attempt: int
    attempts: list[Attempt] | None = Field(default=None, description="One entry per attempt: when, and its error")
    startedAt: Timestamp | None
    finishedAt: Timestamp | None
    durationMs: int | None = None
    lagMs: int | None = Field(default=None, description="Start minus slot, in milliseconds.")
    missedSlots: int | None = Field(default=None, description="Slots skipped while the engine was behind.")
    jobSnapshot: dict[str, Any] | None = Field(default=None, description="The job as run: resolved, masked.")
    result: dict[str, Any] | None = None
    error: ExecutionError | None = None
    createdAt: Timestamp
    createdBy: str | None = None


class JobExecutionListQuery(Page):
    status: ExecutionStatus | None = None
    from_: AwareDatetime | None = Field(default=None, alias="from", description="Slots at or after (ISO-8601)")
    to: AwareDatetime | None = Field(default=None, description="Slots at or before (ISO-8601)")


class ExecutionListQuery(Page):
    jobId: int | None = Field(default=None, ge=1)
    applicationId: int | None = Field(default=None, ge=1)
    status: ExecutionStatus | None = None


class JobCounts(Lax):
    total: int
    enabled: int


class ExecutionCounts(Lax):
    last24h: dict[str, int] = Field(
        description="Finished runs by status (hourly buckets); `skipped` counts dispatched slots that did not run:"
        " concurrencyPolicy forbid, a missed slot (misfirePolicy), or the job disabled, deleted or rescheduled after"
        " its slot was sent."
    )


class FireLag(Lax):
    p50: int | None
    p95: int | None
    p99: int | None
    samples: int


class QueueSizes(Lax):
    """The invoker queue's approximate sizes (SQS's own counts)."""

    ready: int = Field(description="Runs due now that no invoker has picked up yet: the backlog.")
    delayed: int = Field(description="Slots already sent for the next minutes (up to the dispatch window).")
    inFlight: int = Field(description="Runs an invoker is working on (manual runs and retries included).")


class EngineStats(Lax):
    """The engine and its queue are global: `lastTick*` and `queue` are shown to admins only (null otherwise)."""

    lastTickAt: Timestamp | None
    lastTickDurationMs: int | None
    lastTickDispatched: int | None
    queue: QueueSizes | None = None
    fireLagMs: FireLag = Field(description="Start minus slot of the caller's last 200 scheduled runs.")


class Stats(Lax):
    jobs: JobCounts
    executions: ExecutionCounts
    engine: EngineStats


# --- cron preview and browser sessions ------------------------------------------------------------


class CronPreviewRequest(Strict):
    pattern: Annotated[CronPattern, Field(description="5-field cron, or 6 with a leading seconds field.")]
    timezone: Annotated[TimeZone, Field(description="IANA zone the pattern is read in.")] = "UTC"
    count: Annotated[int, Field(ge=1, le=20, description="How many next runs to list.")] = 5
    startAt: IsoDateTime | None = Field(default=None, description="A job's startAt: no run before it.")
    endAt: IsoDateTime | None = Field(default=None, description="A job's endAt: no run at or after it.")


class CronPreview(BaseModel):
    description: str = Field(description='In words, e.g. "At 02:00 AM, Monday through Friday".')
    next: list[Timestamp] = Field(description="The next runs with the zone's offset, as the engine fires them.")


class SessionCreate(Strict):
    token: Annotated[str, Field(min_length=1, max_length=8192, description="A JWT this service accepts.")]


class Session(BaseModel):
    user: str
    admin: bool
    apps: list[str] = Field(description="Applications the user manages (all of them for an admin).")
    expiresAt: Timestamp | None = None
