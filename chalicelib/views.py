"""How stored records look to clients and on the event bus: the one place an execution becomes JSON.

A run does not store the job's configuration: every run of one job version would store the same bytes. The
masked configuration is kept once per version (`snapshot`, written with the job), and a run keeps only what
differs: the values its parameters resolved to (non-secret ones) and the request it made. `execution_view`
puts them back together as the spec's `jobSnapshot`.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from chalicelib.clock import iso
from chalicelib.contracts.models import MASK
from chalicelib.masking import mask_task_config
from chalicelib.store.records import Execution, Job

SNAPSHOT_BODY_BYTES = 4096


def job_snapshot(job: Job) -> dict[str, Any]:
    """The job as its runs show it: what it calls and when, secrets masked, parameters unresolved."""
    snapshot = {
        "id": job.id,
        "name": job.name,
        "applicationId": job.application_id,
        "pattern": job.pattern,
        "runAt": iso(job.run_at),
        "timezone": job.timezone,
        "taskType": job.spec.taskType,
        "taskConfig": mask_task_config(job.task_config),
    }
    return {key: value for key, value in snapshot.items() if value is not None}


def snapshot_key(content: dict[str, Any]) -> str:
    """The name of a snapshot: a digest of its content, so an unchanged configuration is stored once."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def resolved_values(template: Any, resolved: Any, path: str = "") -> dict[str, Any]:
    """Where `resolved` (the configuration a run sent) differs from the masked `template`: the values parameters
    resolved to, by path. Masked places are left out, whatever they resolved to."""
    if isinstance(template, dict) and isinstance(resolved, dict):
        found: dict[str, Any] = {}
        for key, value in template.items():
            if key in resolved:
                found.update(resolved_values(value, resolved[key], f"{path}.{key}" if path else key))
        return found
    if isinstance(template, list) and isinstance(resolved, list) and len(template) == len(resolved):
        found = {}
        for index, (before, after) in enumerate(zip(template, resolved, strict=True)):
            found.update(resolved_values(before, after, f"{path}[{index}]"))
        return found
    if template in (MASK, resolved):
        return {}
    return {path: resolved}


def _apply(config: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    applied = copy.deepcopy(config)
    for path, value in values.items():
        steps: list[str | int] = []
        for part in path.replace("]", "").replace("[", ".").split("."):
            steps.append(int(part) if part.isdigit() else part)
        node: Any = applied
        for step in steps[:-1]:
            node = node[step]
        node[steps[-1]] = value
    return applied


def run_snapshot(template: dict[str, Any] | None, produced: dict[str, Any]) -> dict[str, Any] | None:
    """The job as this run used it: its version's masked template with the values its parameters resolved to
    and the request it made; a body over SNAPSHOT_BODY_BYTES is shown cut."""
    if template is None:
        return None
    snapshot = dict(template)
    try:
        config = _apply(template.get("taskConfig") or {}, produced.get("resolved") or {})
    except (KeyError, IndexError, TypeError):
        config = dict(template.get("taskConfig") or {})
    if config.get("body") is not None:
        text = json.dumps(config["body"])
        if len(text) > SNAPSHOT_BODY_BYTES:
            config["body"], snapshot["bodyTruncated"] = text[:SNAPSHOT_BODY_BYTES], True
    snapshot["taskConfig"] = config
    if produced.get("request"):
        snapshot["request"] = produced["request"]
    return snapshot


def execution_view(execution: Execution, template: dict[str, Any] | None) -> dict[str, Any]:
    """An execution as clients and events see it (secrets were masked before anything was stored)."""
    attempts = execution.attempts
    if not attempts and execution.attempt >= 1 and execution.attempt_started_at is not None:
        attempts = [{"at": iso(execution.attempt_started_at), "error": execution.error}]
    snapshot = execution.job_snapshot or run_snapshot(template, {"resolved": execution.resolved,
                                                                 "request": execution.request})  # fmt: skip
    body = {
        "id": execution.id,
        "jobId": execution.job_id,
        "applicationId": execution.application_id,
        "status": execution.status,
        "trigger": execution.trigger,
        "scheduledFor": iso(execution.slot),
        "plannedAt": iso(execution.planned_at or execution.slot),
        "attempt": execution.attempt,
        "attempts": attempts or None,
        "startedAt": iso(execution.started_at),
        "finishedAt": iso(execution.finished_at),
        "durationMs": execution.duration_ms,
        "lagMs": execution.lag_ms,
        "missedSlots": execution.missed_slots,
        "jobSnapshot": snapshot,
        "result": execution.result,
        "error": execution.error,
        "createdAt": iso(execution.created_at),
        "createdBy": execution.created_by,
    }
    keep_null = {"startedAt", "finishedAt"}
    return {key: value for key, value in body.items() if value is not None or key in keep_null}


def alert_body(kind: str, job: Job | None, at: int, **fields: Any) -> dict[str, Any]:
    """An alert as a webhook channel receives it: `failing`, `recovered`, `late` (or `test`, without a job).
    Every key is present; `fields` gives those that apply (consecutiveFailures, since, lastError, execution, …)."""
    named = {"id": job.id, "name": job.name, "applicationId": job.application_id} if job is not None else None
    body: dict[str, Any] = {"type": kind, "at": iso(at), "job": named, "consecutiveFailures": None, "since": None,
                            "lastError": None, "execution": None}  # fmt: skip
    return {**body, **fields}
