"""Jobs: validation of the whole job, tenancy, next-run computation, ETags, secrets and events."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import ValidationError as PydanticError

from chalicelib import events
from chalicelib.auth import Caller
from chalicelib.clock import iso, now_ms, to_ms
from chalicelib.contracts.headers import is_credential
from chalicelib.contracts.models import MASK, JobSpec, JobUpdate, RetryPolicy, TaskConfig, header_conflicts
from chalicelib.contracts.validation import details_of
from chalicelib.engine import cron
from chalicelib.engine.tick import dispatch_soon
from chalicelib.errors import Conflict, NotFound, PreconditionFailed, ValidationError
from chalicelib.invoker import guard, params
from chalicelib.masking import keep_masked_secrets, mask_task_config, secret_header_names
from chalicelib.services import tenancy
from chalicelib.store import applications as app_store
from chalicelib.store import jobs as job_store
from chalicelib.store import keys
from chalicelib.store.models import ApplicationModel, JobModel

SCHEDULE_FIELDS = ("enabled", "pattern", "runAt", "timezone")


def status_of(job: JobModel) -> str:
    if job.completedAt is not None:
        return "completed"
    if not job.enabled:
        return "paused"
    return "scheduled" if job.nextRunAt is not None else "completed"


def next_run_display(job: JobModel) -> int | None:
    """The next run as users mean it: the next slot from now (the engine's cursor may run ahead)."""
    if status_of(job) != "scheduled":
        return None
    if job.pattern is None:
        return int(job.runAt) if job.runAt is not None else None
    return cron.next_after(job.pattern, job.timezone, now_ms())


def etag(job: JobModel) -> str:
    return f'"{int(job.version)}"'


def to_api(job: JobModel, app: ApplicationModel | None) -> dict[str, Any]:
    """The job as clients see it: the written fields, ISO times, derived status, secrets masked."""
    written = {key: value for key, value in spec_of(job).items() if key != "applicationId"}
    body: dict[str, Any] = {
        "id": int(job.id),
        "application": {
            "id": int(job.applicationId),
            "name": app.name if app else "",
            "displayName": app.displayName if app else "",
        },
        **written,
        "taskConfig": mask_task_config(job.taskConfig),
        "status": status_of(job),
        "nextRunAt": iso(next_run_display(job)),
        "createdAt": iso(job.createdAt),
        "createdBy": job.createdBy,
        "updatedAt": iso(job.updatedAt),
        "updatedBy": job.updatedBy,
    }
    keep_null = {"nextRunAt"}
    return {key: value for key, value in body.items() if value is not None or key in keep_null}


def publish(detail_type: str, job: JobModel, app: ApplicationModel | None) -> None:
    events.publish(detail_type, {"job": to_api(job, app)})


# --- validation ----------------------------------------------------------------------------------


def stored_task_config(config: TaskConfig) -> dict[str, Any]:
    return config.model_dump(exclude_none=True)


def check_spec(spec: JobSpec, schedule_changed: bool) -> None:
    """Rules that span fields or need the outside world: schedule shape, runAt, placeholders, URL guard."""
    if (spec.pattern is None) == (spec.runAt is None):
        raise ValidationError.for_field("pattern", "give exactly one of pattern (recurring) and runAt (one-off)")
    if spec.runAt is not None and schedule_changed and to_ms(spec.runAt) <= now_ms():
        raise ValidationError.for_field("runAt", "must be in the future")
    conflicts = header_conflicts(spec.taskConfig)
    if conflicts:
        raise ValidationError(f"{conflicts[0]['field']}: {conflicts[0]['message']}", conflicts)
    config = stored_task_config(spec.taskConfig)
    params.check_task_config(config)
    guard.check_task_config(config)


def first_run(job: JobModel, after_ms: int) -> int | None:
    if job.completedAt is not None:
        return None
    if job.runAt is not None:
        return int(job.runAt)
    assert job.pattern is not None
    return cron.next_after(job.pattern, job.timezone, after_ms)


def _apply_spec(job: JobModel, spec: JobSpec) -> None:
    job.applicationId = spec.applicationId
    job.name = spec.name.strip()
    job.description = spec.description
    job.enabled = spec.enabled
    job.pattern = spec.pattern
    job.runAt = to_ms(spec.runAt) if spec.runAt else None
    job.timezone = spec.timezone
    job.taskType = spec.taskType
    job.taskConfig = stored_task_config(spec.taskConfig)
    job.retryPolicy = spec.retryPolicy.model_dump()
    job.misfirePolicy = spec.misfirePolicy
    job.concurrencyPolicy = spec.concurrencyPolicy


# --- reads ---------------------------------------------------------------------------------------


def get_visible(caller: Caller, job_id: int) -> tuple[JobModel, ApplicationModel]:
    job = job_store.get(job_id)
    app = app_store.get(int(job.applicationId)) if job else None
    if job is None or app is None or not caller.may_manage(app.name):
        raise NotFound(f"job {job_id} not found")
    return job, app


def list_visible(
    caller: Caller, after_id: int, limit: int, application_id: int | None, enabled: bool | None, name: str | None
) -> tuple[list[dict[str, Any]], bool]:
    if application_id is not None:
        app_ids = [int(tenancy.visible_application(caller, application_id).id)]
    else:
        app_ids = tenancy.visible_application_ids(caller)
    found, more = job_store.list_for_applications(app_ids, after_id, limit, enabled, name)
    apps = app_store.get_many({int(job.applicationId) for job in found})
    return [to_api(job, apps.get(int(job.applicationId))) for job in found], more


# --- writes --------------------------------------------------------------------------------------


def create(caller: Caller, spec: JobSpec) -> tuple[JobModel, ApplicationModel]:
    app = tenancy.writable_application(caller, spec.applicationId)
    try:
        return create_as(caller.user, app, spec), app
    except job_store.NameTaken as exc:
        raise _name_conflict(spec.name) from exc


def _name_conflict(name: str) -> Conflict:
    return Conflict(f"a job named {name} already exists in this application", [{"field": "name", "message": "taken"}])


def matches(if_match: str | None, job: JobModel) -> bool:
    if if_match is None:
        return True
    tags = [tag.strip().removeprefix("W/") for tag in if_match.split(",")]
    return "*" in tags or etag(job) in tags


def spec_of(job: JobModel) -> dict[str, Any]:
    spec = {
        "applicationId": int(job.applicationId),
        "name": job.name,
        "description": job.description,
        "enabled": job.enabled,
        "pattern": job.pattern,
        "runAt": iso(job.runAt),
        "timezone": job.timezone,
        "taskType": job.taskType,
        "taskConfig": job.taskConfig,
        "retryPolicy": retry_policy_of(job).model_dump(),
        "misfirePolicy": job.misfirePolicy or "fire_once",
        "concurrencyPolicy": job.concurrencyPolicy or "allow",
    }
    return {key: value for key, value in spec.items() if value is not None}


def retry_policy_of(job: JobModel) -> RetryPolicy:
    """The job's retry policy (jobs stored before it existed get the defaults)."""
    return RetryPolicy.model_validate(job.retryPolicy or {})


def merge(job: JobModel, patch: JobUpdate) -> tuple[dict[str, Any], list[str]]:
    """Top-level fields replace; taskConfig keys merge one level deep; null removes. Also returns the stored
    credentials dropped because the target moved to another origin (see `_drop_moved_credentials`)."""
    merged = spec_of(job)
    dropped: list[str] = []
    for field in patch.model_fields_set:
        value = getattr(patch, field)
        if field == "taskConfig" and value is not None:
            config = dict(job.taskConfig)
            for key, item in value.items():
                if item is None:
                    config.pop(key, None)
                else:
                    config[key] = item
            if _origin(config) == _origin(job.taskConfig):
                merged["taskConfig"] = keep_masked_secrets(config, job.taskConfig)
            else:
                dropped = _drop_moved_credentials(config, value)
                merged["taskConfig"] = config
        elif value is None:
            merged.pop(field, None)
        else:
            merged[field] = value
    if merged.get("applicationId") != int(job.applicationId):
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


def update(
    caller: Caller, job_id: int, patch: JobUpdate, if_match: str | None
) -> tuple[JobModel, ApplicationModel, list[str]]:
    """Apply a partial update; also returns the credentials dropped because the target moved (for the answer)."""
    job, app = get_visible(caller, job_id)
    if not matches(if_match, job):
        raise PreconditionFailed(f"job {job_id} has changed (ETag {etag(job)}); read it again")
    merged, dropped = merge(job, patch)
    try:
        spec = JobSpec.model_validate(merged)
    except PydanticError as exc:
        raise ValidationError("the updated job is not valid", details_of(exc)) from exc
    schedule_changed = any(field in patch.model_fields_set for field in SCHEDULE_FIELDS)
    check_spec(spec, schedule_changed="runAt" in patch.model_fields_set)
    try:
        _write(caller.user, job, app, spec, reschedule=schedule_changed)
    except job_store.NameTaken as exc:
        raise _name_conflict(job.name) from exc
    except job_store.StaleVersion as exc:
        raise PreconditionFailed(f"job {job_id} changed while it was being updated; read it again") from exc
    return job, app, dropped


def delete(caller: Caller, job_id: int) -> None:
    job, app = get_visible(caller, job_id)
    if not job_store.delete(job):
        raise NotFound(f"job {job_id} not found")
    publish("scheduler.job.deleted", job, app)


def set_enabled(caller: Caller, job_id: int, enabled: bool) -> tuple[JobModel, ApplicationModel]:
    """Enable or disable; idempotent (no write, no event when nothing changes)."""
    for _ in range(3):
        job, app = get_visible(caller, job_id)
        if job.enabled == enabled:
            return job, app
        old_version = int(job.version)
        job.enabled = enabled
        job_store.set_next_run(job, first_run(job, now_ms()) if enabled else None)
        job.version, job.updatedAt, job.updatedBy = old_version + 1, now_ms(), caller.user
        try:
            job_store.replace(job, old_version, job.name)
        except job_store.StaleVersion:
            continue
        publish("scheduler.job.updated", job, app)
        dispatch_soon(job)
        return job, app
    raise Conflict(f"job {job_id} is being changed concurrently; retry")


# --- wholesale writes for bootstrap sync ---------------------------------------------------------------


def spec_matches(job: JobModel, spec: JobSpec) -> bool:
    """Whether writing `spec` would change nothing a user can see (then nothing is written)."""
    probe = JobModel(job.id)
    _apply_spec(probe, spec)
    fields = ("name", "description", "enabled", "pattern", "runAt", "timezone", "taskType", "taskConfig", "retryPolicy",
              "misfirePolicy", "concurrencyPolicy")  # fmt: skip
    return all(getattr(probe, name) == getattr(job, name) for name in fields)


def replace(actor: str, job: JobModel, app: ApplicationModel, spec: JobSpec) -> JobModel:
    """Overwrite the job with `spec` if it is still at the version read; StaleVersion otherwise."""
    check_spec(spec, schedule_changed=spec.runAt is not None and to_ms(spec.runAt) != job.runAt)
    return _write(actor, job, app, spec, reschedule=True)


def _write(actor: str, job: JobModel, app: ApplicationModel, spec: JobSpec, reschedule: bool) -> JobModel:
    """Apply `spec` wholesale and store it if the job is still at the version read (NameTaken/StaleVersion
    otherwise); a changed schedule gets its next run, and a slot inside the lookahead is dispatched."""
    old_version, old_name, old_run_at = int(job.version), job.name, job.runAt
    _apply_spec(job, spec)
    if job.runAt != old_run_at:
        job.completedAt = None
    if reschedule:
        job_store.set_next_run(job, first_run(job, now_ms()))
    job.version, job.updatedAt, job.updatedBy = old_version + 1, now_ms(), actor
    job_store.replace(job, old_version, old_name)
    publish("scheduler.job.updated", job, app)
    if reschedule:
        dispatch_soon(job)
    return job


def remove(job: JobModel, app: ApplicationModel) -> bool:
    """Delete the job if it is still at the version read; False when it changed or vanished."""
    if not job_store.delete(job, expected_version=int(job.version)):
        return False
    publish("scheduler.job.deleted", job, app)
    return True


def create_as(actor: str, app: ApplicationModel, spec: JobSpec) -> JobModel:
    """Create in an application already chosen (bootstrap); the name claim makes a race a NameTaken."""
    check_spec(spec, schedule_changed=True)
    moment = now_ms()
    job = JobModel(keys.allocate_ids("job"), createdAt=moment, createdBy=actor, updatedAt=moment,
                   updatedBy=actor, version=1)  # fmt: skip
    _apply_spec(job, spec)
    job_store.set_next_run(job, first_run(job, moment))
    job_store.create(job)
    publish("scheduler.job.created", job, app)
    dispatch_soon(job)
    return job
