"""Jobs: validation of the whole job, tenancy, next-run computation, ETags, secrets and events."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace as replace_record
from typing import Any

import httpx
from pydantic import ValidationError as PydanticError

from chalicelib import cron, events
from chalicelib.auth import Caller
from chalicelib.clock import iso, local_iso, now_ms, to_ms
from chalicelib.codes import JobStatus
from chalicelib.contracts.headers import is_credential
from chalicelib.contracts.models import MASK, JobSpec, PauseInput, Strict, TaskConfig, header_conflicts
from chalicelib.contracts.validation import details_of
from chalicelib.engine.tick import dispatch_soon
from chalicelib.errors import Conflict, NotFound, PreconditionFailed, UrlNotAllowed, ValidationError
from chalicelib.invoker import guard, params
from chalicelib.masking import keep_masked_secrets, mask_places, mask_task_config, secret_header_names
from chalicelib.services import tenancy
from chalicelib.store import applications as app_store
from chalicelib.store import executions as execution_store
from chalicelib.store import health as job_health
from chalicelib.store import jobs as job_store
from chalicelib.store import keys
from chalicelib.store import variables as variable_store
from chalicelib.store.records import Application, Execution, Job
from chalicelib.views import job_snapshot, snapshot_key

SCHEDULE_FIELDS = ("enabled", "pattern", "runAt", "timezone", "startAt", "endAt")
UPCOMING = 5


def next_slot(job: Job, after_ms: int) -> int | None:
    """The job's first slot after `after_ms` within its startAt/endAt window, or None."""
    assert job.pattern is not None
    return cron.next_in_window(job.pattern, job.timezone, after_ms, job.start_at, job.end_at)


def status_of(job: Job) -> JobStatus:
    if job.completed_at is not None:
        return "completed"
    if not job.enabled:
        return "paused"
    if job.next_run_at is None or (job.end_at is not None and job.end_at <= now_ms()):
        return "completed"  # a one-off that ran, or a job past its endAt
    return "scheduled"


def next_run_display(job: Job) -> int | None:
    """The next run as users mean it: the next slot from now (the engine's cursor may run ahead)."""
    if status_of(job) != "scheduled":
        return None
    if job.pattern is None:
        return job.run_at
    return next_slot(job, now_ms())


def upcoming(job: Job, count: int = UPCOMING) -> list[dict[str, str]]:
    """The next slots from the schedule (nothing is stored for them), in UTC and in the job's zone."""
    at = next_run_display(job)
    slots: list[int] = []
    while at is not None and len(slots) < count:
        slots.append(at)
        at = next_slot(job, at) if job.pattern else None
    zone = cron.zone(job.timezone)
    return [{"at": iso(slot) or "", "local": local_iso(slot, zone)} for slot in slots]


def etag(job: Job) -> str:
    return f'"{job.version}"'


def spec_of(job: Job) -> dict[str, Any]:
    """The client-written fields as JSON (defaults included), secrets in clear."""
    written = job.spec.model_dump(mode="json", exclude_none=True)
    written["runAt"], written["startAt"], written["endAt"] = iso(job.run_at), iso(job.start_at), iso(job.end_at)
    return {key: value for key, value in written.items() if value is not None}


def to_api(job: Job, app: Application | None, with_upcoming: bool = False) -> dict[str, Any]:
    """The job as clients see it: the written fields, ISO times, derived status, secrets masked."""
    written = {key: value for key, value in spec_of(job).items() if key != "applicationId"}
    body: dict[str, Any] = {
        "id": job.id,
        "application": {
            "id": job.application_id,
            "name": app.name if app else "",
            "displayName": app.display_name if app else "",
        },
        **written,
        "taskConfig": mask_task_config(job.task_config),
        "variables": sorted(params.references(job.task_config)) or None,
        "status": status_of(job),
        "nextRunAt": iso(next_run_display(job)),
        "pausedUntil": iso(job.paused_until),
        "pausedReason": job.paused_reason,
        "upcoming": upcoming(job) if with_upcoming else None,
        "createdAt": iso(job.created_at),
        "createdBy": job.created_by,
        "updatedAt": iso(job.updated_at),
        "updatedBy": job.updated_by,
    }
    keep_null = {"nextRunAt"}
    return {key: value for key, value in body.items() if value is not None or key in keep_null}


def publish(detail_type: str, job: Job, app: Application | None) -> None:
    events.publish(detail_type, {"job": to_api(job, app)})


# --- validation ----------------------------------------------------------------------------------


def stored_task_config(config: TaskConfig) -> dict[str, Any]:
    return config.model_dump(exclude_none=True)


def check_spec(spec: JobSpec, schedule_changed: bool, variables: Iterable[str] | None = None) -> None:
    """Rules that span fields or need the outside world: schedule shape, runAt, placeholders (the variables
    the job's application has, or `variables` when the caller knows better: bootstrap files), URL guard."""
    if (spec.pattern is None) == (spec.runAt is None):
        raise ValidationError.for_field("pattern", "give exactly one of pattern (recurring) and runAt (one-off)")
    if spec.runAt is not None and schedule_changed and to_ms(spec.runAt) <= now_ms():
        raise ValidationError.for_field("runAt", "must be in the future")
    _check_window(spec)
    conflicts = header_conflicts(spec.taskConfig)
    if conflicts:
        raise ValidationError.for_details(conflicts)
    config = stored_task_config(spec.taskConfig)
    masks = [{"field": place, "message": f"is the mask {MASK}, not a secret: send the secret itself (no stored "
              "secret matches it: another auth method or a new header)"} for place in mask_places(config)]  # fmt: skip
    if masks:
        raise ValidationError.for_details(masks)
    known = variables
    if known is None:
        known = variable_store.all_of(spec.applicationId) if params.references(config) else ()
    try:
        params.check_task_config(config, known)
    except params.ParamError as exc:
        raise ValidationError.for_field(exc.field, str(exc)) from exc
    try:
        guard.check_task_config(config)
    except guard.UrlRefused as exc:
        raise UrlNotAllowed.for_field(exc.field, exc.reason) from exc


def _check_window(spec: JobSpec) -> None:
    """startAt/endAt bound a recurring schedule (endAt after startAt); jitter stays below its shortest interval."""
    if spec.runAt is not None:
        for name in ("startAt", "endAt"):
            if getattr(spec, name) is not None:
                raise ValidationError.for_field(name, "applies to recurring jobs (pattern) only; runAt is one instant")
    if spec.startAt is not None and spec.endAt is not None and spec.endAt <= spec.startAt:
        raise ValidationError.for_field("endAt", "must be after startAt")
    if spec.jitterSeconds and spec.pattern is not None:
        start = to_ms(spec.startAt) if spec.startAt is not None else now_ms()
        shortest = cron.shortest_interval_ms(spec.pattern, spec.timezone, max(start, now_ms()))
        if shortest is not None and spec.jitterSeconds * 1000 >= shortest:
            raise ValidationError.for_field(
                "jitterSeconds", f"must be less than the schedule's shortest interval ({shortest // 1000} s)"
            )


def first_run(job: Job, after_ms: int) -> int | None:
    if job.completed_at is not None:
        return None
    if job.run_at is not None:
        return job.run_at
    return next_slot(job, after_ms)


# --- reads ---------------------------------------------------------------------------------------


def get_visible(caller: Caller, job_id: int) -> tuple[Job, Application]:
    job = job_store.get(job_id)
    app = app_store.get(job.application_id) if job else None
    if job is None or app is None or not caller.may_manage(app.name):
        raise NotFound(f"job {job_id} not found")
    return job, app


def list_visible(
    caller: Caller,
    after_id: int,
    limit: int,
    application_id: int | None,
    enabled: bool | None,
    name: str | None,
    with_last_run: bool = False,
) -> tuple[list[dict[str, Any]], bool]:
    if application_id is not None:
        app_ids = [tenancy.visible_application(caller, application_id).id]
    else:
        app_ids = tenancy.visible_application_ids(caller)
    found, more = job_store.list_for_applications(app_ids, after_id, limit, enabled, name)
    apps = app_store.get_many({job.application_id for job in found})
    items = [to_api(job, apps.get(job.application_id)) for job in found]
    # One eventually consistent Query of each job's newest runs gives its health (and its last run when asked)
    histories = execution_store.newest_runs_of([job.id for job in found], job_health.WINDOW)
    for job, item, runs in zip(found, items, histories, strict=True):
        item["health"] = health_view(job, runs)
        if with_last_run and runs:
            last = runs[0]
            item["lastRun"] = {"id": last.id, "status": last.status, "scheduledFor": iso(last.slot),
                               "finishedAt": iso(last.finished_at)}  # fmt: skip
    return items, more


def health_view(job: Job, runs: list[Execution] | None = None) -> dict[str, Any]:
    """The job's health as clients see it, from its newest runs (read here when not given: one Query)."""
    if runs is None:
        runs = execution_store.newest(job.id, job_health.WINDOW, consistent=False)
    found = job_health.derive(job, runs, now_ms())
    return {"state": found.state, "consecutiveFailures": found.consecutive_failures, "since": iso(found.since),
            "lastSuccessAt": iso(found.last_success_at)}  # fmt: skip


# --- writes --------------------------------------------------------------------------------------


def create(caller: Caller, spec: JobSpec) -> tuple[Job, Application]:
    app = tenancy.writable_application(caller, spec.applicationId)
    try:
        return create_as(caller.user, app, spec), app
    except job_store.NameTaken as exc:
        raise _name_conflict(spec.name) from exc


def _name_conflict(name: str) -> Conflict:
    return Conflict(f"a job named {name} already exists in this application", [{"field": "name", "message": "taken"}])


def matches(if_match: str | None, job: Job) -> bool:
    if if_match is None:
        return True
    tags = [tag.strip().removeprefix("W/") for tag in if_match.split(",")]
    return "*" in tags or etag(job) in tags


def merge(job: Job, patch: Strict) -> tuple[dict[str, Any], list[str]]:
    """Top-level fields replace; taskConfig keys merge one level deep; null removes. Also returns the stored
    credentials dropped because the target moved to another origin (see `_drop_moved_credentials`)."""
    merged = spec_of(job)
    dropped: list[str] = []
    for field, value in patch.model_dump(mode="json", exclude_unset=True).items():
        if field == "taskConfig" and value is not None:
            config = dict(job.task_config)
            for key, item in value.items():
                if item is None:
                    config.pop(key, None)
                else:
                    config[key] = item
            if _origin(config) == _origin(job.task_config):
                merged["taskConfig"] = keep_masked_secrets(config, job.task_config)
            else:
                dropped = _drop_moved_credentials(config, value)
                merged["taskConfig"] = config
        elif value is None:
            merged.pop(field, None)
        else:
            merged[field] = value
    if merged.get("applicationId") != job.application_id:
        raise ValidationError.for_field("applicationId", "cannot be changed; create the job in the other application")
    return merged, dropped


def _origin(config: dict[str, Any]) -> tuple[str, ...]:
    """Scheme, host and port of the task's target, as far as they are known before parameters resolve."""
    try:
        url, _ = guard.compose(config)
    except guard.UrlRefused:
        return ("invalid", str(config.get("url") or config.get("endpoint")))
    if guard.authority_is_dynamic(url):
        return ("dynamic", url.split("://", 1)[-1].split("/", 1)[0])
    try:
        parsed = httpx.URL(url.replace("${", "0{"))
    except (httpx.InvalidURL, ValueError):
        return ("invalid", url)
    scheme = parsed.scheme.lower()
    return scheme, parsed.host.lower().rstrip("."), str(parsed.port or guard.DEFAULT_PORTS.get(scheme, 0))


def _drop_moved_credentials(config: dict[str, Any], supplied: dict[str, Any]) -> list[str]:
    """The target moved to another origin: as a browser does, its stored credentials do not follow it. Keep
    only those this very request supplies again (not as the `********` mask); drop the rest and name them."""
    dropped: list[str] = []
    auth = supplied.get("auth")
    fresh_auth = isinstance(auth, dict) and MASK not in auth.values()
    if config.get("auth") and not fresh_auth:
        config.pop("auth")
        dropped.append("taskConfig.auth")
    headers = dict(config.get("headers") or {})
    given = supplied.get("headers")
    fresh_headers: dict[str, Any] = given if isinstance(given, dict) else {}
    marked = secret_header_names(config)
    for name in list(headers):
        if is_credential(name, marked) and fresh_headers.get(name, MASK) == MASK:
            headers.pop(name)
            dropped.append(f"taskConfig.headers.{name}")
    if "headers" in config:
        config["headers"] = headers
    return dropped


def update(caller: Caller, job_id: int, patch: Strict, if_match: str | None) -> tuple[Job, Application, list[str]]:
    """Apply a partial update; also returns the credentials dropped because the target moved (for the answer)."""
    job, app = get_visible(caller, job_id)
    if not matches(if_match, job):
        raise PreconditionFailed(f"job {job_id} has changed (ETag {etag(job)}); read it again")
    merged, dropped = merge(job, patch)
    try:
        spec = JobSpec.model_validate(merged)
    except PydanticError as exc:
        raise ValidationError.for_details(details_of(exc)) from exc
    schedule_changed = any(field in patch.model_fields_set for field in SCHEDULE_FIELDS)
    check_spec(spec, schedule_changed="runAt" in patch.model_fields_set)
    try:
        written = _write(caller.user, job, app, spec, reschedule=schedule_changed)
    except job_store.NameTaken as exc:
        raise _name_conflict(spec.name) from exc
    except job_store.StaleVersion as exc:
        raise PreconditionFailed(f"job {job_id} changed while it was being updated; read it again") from exc
    return written, app, dropped


def delete(caller: Caller, job_id: int) -> None:
    job, app = get_visible(caller, job_id)
    if not job_store.delete(job):
        raise NotFound(f"job {job_id} not found")
    publish("scheduler.job.deleted", job, app)


def set_enabled(caller: Caller, job_id: int, enabled: bool, pause: PauseInput | None = None) -> tuple[Job, Application]:
    """Enable or disable; idempotent (no write, no event when nothing changes). A disable with `until` pauses the
    job until then: it stays in the due index at `until`, where the engine resumes it (its missed slots follow its
    misfirePolicy); enable, or a plain disable, ends such a pause."""
    until = to_ms(pause.until) if pause is not None and pause.until is not None else None
    if until is not None and until <= now_ms():
        raise ValidationError.for_field("until", "must be in the future")
    reason = pause.reason if pause is not None else None
    for _ in range(3):
        job, app = get_visible(caller, job_id)
        if job.enabled == enabled and (enabled or (job.paused_until, job.paused_reason) == (until, reason)):
            return job, app
        changed = replace_record(job, spec=job.spec.model_copy(update={"enabled": enabled}), paused_until=until,
                                 paused_reason=reason if until is not None else None,
                                 paused_at=(job.paused_at or now_ms()) if until is not None else None)  # fmt: skip
        following = first_run(changed, now_ms()) if enabled else until
        changed = replace_record(changed, next_run_at=following, version=job.version + 1, updated_at=now_ms(),
                                 updated_by=caller.user)  # fmt: skip
        try:
            job_store.replace(changed, job, None)
        except job_store.StaleVersion:
            continue
        publish("scheduler.job.updated", changed, app)
        dispatch_soon(changed)
        return changed, app
    raise Conflict(f"job {job_id} is being changed concurrently; retry")


# --- wholesale writes for bootstrap sync ---------------------------------------------------------------


def _normal(spec: JobSpec) -> JobSpec:
    return spec.model_copy(update={"name": spec.name.strip()})


def spec_matches(job: Job, spec: JobSpec) -> bool:
    """Whether writing `spec` would change nothing a user can see (then nothing is written)."""

    def written(value: JobSpec) -> dict[str, Any]:
        return value.model_dump(mode="json", exclude_none=True)

    return written(_normal(spec)) == written(job.spec)


def replace(actor: str, job: Job, app: Application, spec: JobSpec) -> Job:
    """Overwrite the job with `spec` if it is still at the version read; StaleVersion otherwise."""
    run_at = to_ms(spec.runAt) if spec.runAt is not None else None
    check_spec(spec, schedule_changed=run_at is not None and run_at != job.run_at)
    return _write(actor, job, app, spec, reschedule=True)


def _with_snapshot(job: Job) -> tuple[Job, dict[str, Any]]:
    content = job_snapshot(job)
    return replace_record(job, snapshot=snapshot_key(content)), content


def _write(actor: str, job: Job, app: Application, spec: JobSpec, reschedule: bool) -> Job:
    """Apply `spec` wholesale and store it if the job is still at the version read (NameTaken/StaleVersion
    otherwise); a changed schedule gets its next run, and slots before the next tick are dispatched."""
    changed = replace_record(job, spec=_normal(spec), version=job.version + 1, updated_at=now_ms(), updated_by=actor)
    if changed.run_at != job.run_at:
        changed = replace_record(changed, completed_at=None)
    if changed.enabled and changed.paused_until is not None:  # enabled by a PUT: the pause is over
        changed = replace_record(changed, paused_until=None, paused_reason=None, paused_at=None)
    if reschedule:
        changed = replace_record(changed, next_run_at=first_run(changed, now_ms()))
    if not changed.enabled and changed.paused_until is not None:
        changed = replace_record(changed, next_run_at=changed.paused_until)  # where the engine resumes it
    changed, content = _with_snapshot(changed)
    job_store.replace(changed, job, content)
    publish("scheduler.job.updated", changed, app)
    if reschedule:
        dispatch_soon(changed)
    return changed


def remove(job: Job, app: Application) -> bool:
    """Delete the job if it is still at the version read; False when it changed or vanished."""
    if not job_store.delete(job, expected_version=job.version):
        return False
    publish("scheduler.job.deleted", job, app)
    return True


def create_as(actor: str, app: Application, spec: JobSpec) -> Job:
    """Create in an application already chosen (bootstrap); the name claim makes a race a NameTaken."""
    check_spec(spec, schedule_changed=True)
    moment = now_ms()
    job = Job(id=keys.allocate_ids("job"), spec=_normal(spec), version=1, created_at=moment, updated_at=moment,
              created_by=actor, updated_by=actor)  # fmt: skip
    job = replace_record(job, next_run_at=first_run(job, moment))
    job, content = _with_snapshot(job)
    job_store.create(job, content)
    publish("scheduler.job.created", job, app)
    dispatch_soon(job)
    return job
