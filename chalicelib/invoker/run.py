"""Run one dispatched slot: re-read the job, claim the execution, resolve, guard, call, record.

A message whose execution is no longer pending (a duplicate delivery, a re-send by a repairing tick)
is dropped by the pending -> running condition, so a slot never runs twice.
"""

from __future__ import annotations

import base64
import json
import math
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from chalicelib import events
from chalicelib.clock import iso, now_ms
from chalicelib.contracts import json_values
from chalicelib.contracts.models import RetryPolicy
from chalicelib.engine import cron
from chalicelib.engine.outcome import run_ended
from chalicelib.engine.queue import RunMessage, ShardMessage, decode, delay_for, send
from chalicelib.engine.tick import MISFIRE_GRACE_MS, tick_shard
from chalicelib.invoker import guard, http, params
from chalicelib.masking import credential_headers, mask_task_config, scrub, secret_forms
from chalicelib.observability import count, flush, milliseconds, run_context, tracer
from chalicelib.observability import logger as log
from chalicelib.store import engine_state
from chalicelib.store import executions as execution_store
from chalicelib.store import jobs as job_store
from chalicelib.store.models import ExecutionModel, JobModel

MAX_EARLY_WAIT_MS = 2_000
SNAPSHOT_BODY_BYTES = 4096
RETRYABLE_CODES = frozenset({"ETIMEDOUT", "ECONNREFUSED", "ECONNRESET", "ENOTFOUND"})
AUTH_HEADER = "Authorization"


@dataclass
class Outcome:
    status: str
    result: dict[str, Any] | None = None
    error: dict[str, str] | None = None
    snapshot: dict[str, Any] | None = None


def _auth_headers(auth: dict[str, str] | None) -> dict[str, str]:
    if not auth:
        return {}
    if auth["authMethod"] == "bearer":
        return {AUTH_HEADER: f"Bearer {auth['token']}"}
    if auth["authMethod"] == "basic":
        pair = f"{auth['username']}:{auth['password']}".encode()
        return {AUTH_HEADER: "Basic " + base64.b64encode(pair).decode()}
    return {auth["headerName"]: auth["key"]}


def snapshot_of(job: JobModel, config: dict[str, Any], url: str | None) -> dict[str, Any]:
    """The job as this run used it: resolved, secrets masked, a large body cut to SNAPSHOT_BODY_BYTES (the
    execution record must stay far below DynamoDB's 400 KB item limit whatever a job holds)."""
    masked = mask_task_config(config)
    truncated = None
    if masked.get("body") is not None:
        text = json.dumps(masked["body"])
        if len(text) > SNAPSHOT_BODY_BYTES:
            masked["body"], truncated = text[:SNAPSHOT_BODY_BYTES], True
        else:
            try:
                json_values.check(masked["body"])
            except json_values.JsonProblem:
                masked["body"] = text  # not standard JSON (stored before the rules): kept as its text
    snapshot = {
        "id": int(job.id),
        "name": job.name,
        "applicationId": int(job.applicationId),
        "pattern": job.pattern,
        "runAt": iso(job.runAt),
        "timezone": job.timezone,
        "taskType": job.taskType,
        "taskConfig": masked,
        "bodyTruncated": truncated,
        "request": {"method": config.get("method", "GET"), "url": url},
    }
    return {key: value for key, value in snapshot.items() if value is not None}


def perform(job: JobModel, slot: int, resolver: guard.Resolver | None = None) -> Outcome:
    """Resolve parameters at the slot's time, guard the URL, make the call, classify the answer. Never raises:
    whatever the job holds or the target sends, the run ends with a code, and no error message carries a header
    value, token, password or key."""
    secrets = secret_forms(job.taskConfig, {})
    try:
        outcome, sent = _perform(job, slot, resolver)
        secrets = secret_forms(job.taskConfig, sent) + secrets
    except Exception as exc:  # noqa: BLE001 - a run must finish; the cause is logged without its message
        log.error("run could not be performed", extra={"exception": type(exc).__name__})
        error = {"code": "CALL_ERROR", "message": f"the run could not be performed ({type(exc).__name__})"}
        outcome = Outcome("failed", error=error, snapshot=snapshot_of(job, job.taskConfig, None))
    if outcome.error is not None:
        outcome.error = {**outcome.error, "message": scrub(outcome.error["message"], secrets)}
    return outcome


def _perform(job: JobModel, slot: int, resolver: guard.Resolver | None) -> tuple[Outcome, dict[str, str]]:
    try:
        config = params.resolve_task_config(job.taskConfig, slot, job.timezone)
    except params.ParamError as exc:
        error = {"code": "PARAM_ERROR", "message": str(exc)}
        return Outcome("failed", error=error, snapshot=snapshot_of(job, job.taskConfig, None)), {}
    headers = {**(config.get("headers") or {}), **_auth_headers(config.get("auth"))}
    try:
        url, _ = guard.compose(config)
    except guard.UrlRefused as exc:
        error = {"code": "URL_NOT_ALLOWED", "message": exc.reason}
        return Outcome("failed", error=error, snapshot=snapshot_of(job, config, None)), headers
    snapshot = snapshot_of(job, config, url)
    request = http.Request(
        method=config.get("method", "GET"),
        url=url,
        headers=headers,
        body=config.get("body"),
        timeout_ms=int(config.get("timeout", 30_000)),
        credential_headers=credential_headers(config),
    )
    try:
        response = http.call(request, resolver=resolver)
    except http.CallFailed as exc:
        return Outcome("failed", error={"code": exc.code, "message": exc.message}, snapshot=snapshot), headers
    if 200 <= response.status < 300:
        return Outcome("succeeded", result=response.as_result(), snapshot=snapshot), headers
    error = {"code": f"HTTP_{response.status}", "message": f"the target answered HTTP {response.status}"}
    return Outcome("failed", result=response.as_result(), error=error, snapshot=snapshot), headers


def _cancel(message: RunMessage, code: str, reason: str) -> bool:
    """End a pending execution failed without running it (counted as a skipped slot in the stats); False
    when it was no longer pending."""
    cancelled = execution_store.fail_pending(message.job_id, message.slot, now_ms(), code, reason)
    if cancelled is not None:
        run_ended(cancelled, "skipped")
    return cancelled is not None


def _rescheduled(job: JobModel, message: RunMessage) -> bool:
    """The job was edited after dispatch and its schedule no longer has this slot."""
    if message.dispatched_at is None or int(job.updatedAt) <= message.dispatched_at:
        return False
    if job.pattern is None:
        return job.runAt != message.slot
    return not cron.fires_at(job.pattern, job.timezone, message.slot)


def _misfired(job: JobModel, slot: int, now: int) -> bool:
    """A run that reaches the invoker more than the misfire grace after its slot (the engine or its queue was
    down) follows the job's misfirePolicy: `skip` runs none of them; `fire_once` runs only the latest missed slot,
    the one whose next slot is not itself missed. So an outage never ends in a burst of old runs."""
    if now - slot <= MISFIRE_GRACE_MS:
        return False
    if job.misfirePolicy == "skip":
        return True
    if job.pattern is None:
        return False  # a one-off job's only slot is its latest
    return cron.next_after(job.pattern, job.timezone, slot) < now - MISFIRE_GRACE_MS


def _wait_for_slot(message: RunMessage) -> bool:
    """Start on the slot's second: wait out a short early arrival; hand a long one back to the queue."""
    early = message.slot - now_ms()
    if early > MAX_EARLY_WAIT_MS:
        send([(message, delay_for(message.slot, now_ms()))])
        return False
    if early > 0:
        time.sleep(early / 1000)
    return True


def run_message(message: RunMessage, resolver: guard.Resolver | None = None) -> str:
    """Run one message; returns what happened: ran, retrying, duplicate, cancelled or requeued."""
    keys = {"jobId": message.job_id, "executionId": message.execution_id, "slot": message.slot}
    with run_context(**keys):
        try:
            return _run(message, resolver)
        except Exception:
            log.exception("run failed before its outcome was recorded; the message will be retried")
            raise


@tracer.capture_method(capture_response=False)
def _run(message: RunMessage, resolver: guard.Resolver | None) -> str:
    job = job_store.get(message.job_id)
    if job is None:
        _cancel(message, "JOB_DELETED", "the job was deleted after this run was dispatched")
        return "cancelled"
    if message.trigger == "schedule" and not job.enabled:
        _cancel(message, "JOB_DISABLED", "the job was disabled after this run was dispatched")
        return "cancelled"
    if message.trigger == "schedule" and _rescheduled(job, message):
        _cancel(message, "JOB_RESCHEDULED", "the job's schedule changed after this run was dispatched")
        return "cancelled"
    if message.trigger == "schedule" and message.due_at is None and _misfired(job, message.slot, now_ms()):
        count("MisfiresSkipped")
        _cancel(message, "MISFIRE_SKIPPED", f"the run was due more than {MISFIRE_GRACE_MS // 1000} s ago; "
                f"misfirePolicy {job.misfirePolicy or 'fire_once'} leaves it out")  # fmt: skip
        return "skipped"
    if job.concurrencyPolicy == "forbid" and execution_store.earlier_in_flight(message.job_id, message.slot):
        log.info("slot skipped: the previous run is still in flight", extra={"applicationId": int(job.applicationId)})
        count("OverlapSkipped")
        reason = "the previous run was still pending or running (concurrencyPolicy forbid)"
        _cancel(message, "SKIPPED_OVERLAP", reason)
        return "skipped"
    if not _wait_for_slot(message):
        return "requeued"
    execution = execution_store.start(message.job_id, message.slot, now_ms())
    if execution is None:
        log.info("duplicate delivery dropped", extra={"applicationId": int(job.applicationId)})
        count("DuplicateDeliveries")
        return "duplicate"
    if int(execution.attempt) == 1:
        events.publish_execution("started", execution_store.to_api(execution))
    outcome = perform(job, message.slot, resolver)
    attempts = [*(execution.attempts or []), {"at": iso(execution.attemptStartedAt), "error": outcome.error}]
    if _retry(job, message, execution, outcome, attempts):
        return "retrying"
    finished_at = now_ms()
    fields = {"result": outcome.result, "error": outcome.error, "jobSnapshot": outcome.snapshot, "attempts": attempts}
    if not execution_store.finish(execution, outcome.status, finished_at, fields):
        log.warning("execution was taken over before it finished; outcome dropped")
        return "duplicate"
    _observe(message, execution, outcome)
    run_ended(execution, outcome.status)
    if job.runAt is not None and message.trigger == "schedule":
        job_store.update(job, [JobModel.completedAt.set(finished_at), JobModel.dueShard.remove()], JobModel.id.exists())
    return "ran"


def retryable(error: dict[str, str] | None) -> bool:
    """Timeouts, connection errors, 429 and 5xx; never other 4xx, URL_NOT_ALLOWED or PARAM_ERROR."""
    code = (error or {}).get("code", "")
    return code in RETRYABLE_CODES or code == "HTTP_429" or (code.startswith("HTTP_5") and len(code) == 8)


def retry_delay(policy: RetryPolicy, attempt: int, retry_after: str | None = None) -> int:
    """Seconds before attempt `attempt + 1`: the target's Retry-After if it gave one, else full jitter over
    initialSeconds * 2^(attempt-1); never more than maxSeconds."""
    ceiling = policy.backoff.maxSeconds
    seconds = _seconds(retry_after) if retry_after else None
    if seconds is not None:
        return max(0, min(ceiling, math.ceil(seconds)))
    cap = min(ceiling, policy.backoff.initialSeconds * 2 ** (attempt - 1))
    return math.ceil(random.uniform(0, cap))


def _seconds(retry_after: str) -> float | None:
    """Retry-After as seconds from now: a number, or an HTTP date."""
    try:
        return float(retry_after)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(retry_after).timestamp() - time.time()
    except (TypeError, ValueError):
        return None


def _retry(job: JobModel, message: RunMessage, execution: ExecutionModel, outcome: Outcome,
           attempts: list[dict[str, Any]]) -> bool:  # fmt: skip
    """Hand a retryable failure back to the queue with a delay; True when a retry is on its way."""
    policy = RetryPolicy.model_validate(job.retryPolicy or {})
    attempt = int(execution.attempt)
    if outcome.status != "failed" or not retryable(outcome.error) or attempt >= policy.maxAttempts:
        return False
    retry_after = ((outcome.result or {}).get("headers") or {}).get("retry-after")
    delay = retry_delay(policy, attempt, retry_after)
    again = RunMessage(message.job_id, message.slot, message.trigger, message.execution_id, dispatched_at=now_ms(),
                       due_at=now_ms() + delay * 1000)  # fmt: skip
    if send([(again, delay)]):
        return False  # the queue refused: record this attempt's outcome as final
    if not execution_store.retry_later(execution, attempts, now_ms() + delay * 1000):
        return True  # another delivery owns the execution now; the new message will be dropped
    count("Retries")
    code = outcome.error["code"] if outcome.error else None
    log.info("run will be retried", extra={"attempt": attempt, "code": code, "delaySeconds": delay})
    return True


def _observe(message: RunMessage, execution: ExecutionModel, outcome: Outcome) -> None:
    code = outcome.error["code"] if outcome.error else None
    log.info("run finished", extra={"applicationId": int(execution.applicationId), "executionId": int(execution.id),
                                    "status": outcome.status, "code": code, "trigger": message.trigger,
                                    "lagMs": execution.lagMs, "durationMs": execution.durationMs})  # fmt: skip
    count("RunSucceeded" if outcome.status == "succeeded" else "RunFailed")
    milliseconds("RunDuration", float(execution.durationMs or 0))
    if message.trigger == "schedule":
        milliseconds("FireLag", float(execution.lagMs or 0))


def _run_record(record: dict[str, Any], resolver: guard.Resolver | None) -> bool:
    if int(record.get("attributes", {}).get("ApproximateReceiveCount", 1)) > 1:
        count("Redeliveries")  # SQS redelivered this message after a failed or lost invoker batch
    try:
        message = decode(record["body"])
    except (ValueError, KeyError, TypeError):
        log.exception("undecodable message", extra={"messageId": record.get("messageId")})
        return False
    try:
        if isinstance(message, ShardMessage):
            tick_shard(message)
        else:
            run_message(message, resolver)
    except Exception:  # noqa: BLE001 - logged with the run's keys; one failure must not rerun the batch
        return False
    return True


def handle_records(records: list[dict[str, Any]], resolver: guard.Resolver | None = None) -> list[dict[str, Any]]:
    """Run an SQS batch, its messages side by side (runs of one slot start together, not in a queue);
    returns the records that failed (to be retried), the rest are done."""
    if len(records) <= 1:
        outcomes = [_run_record(record, resolver) for record in records]
    else:
        with ThreadPoolExecutor(max_workers=len(records)) as pool:
            outcomes = list(pool.map(lambda record: _run_record(record, resolver), records))
    engine_state.flush_outcomes()
    flush()
    return [record for record, ok in zip(records, outcomes, strict=True) if not ok]


class BatchPartlyFailed(Exception):
    """Raised after deleting the handled messages, so SQS redelivers only the failed ones."""


def handle_batch(records: list[dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
    """The SQS entry point. Works with and without ReportBatchItemFailures on the event source:
    handled messages are deleted before raising, so a failure never makes the rest run again."""
    from chalicelib.engine.queue import delete

    failed = handle_records(records)
    if failed:
        failed_ids = {record["messageId"] for record in failed}
        delete([record["receiptHandle"] for record in records if record["messageId"] not in failed_ids])
        raise BatchPartlyFailed(f"{len(failed)} of {len(records)} messages failed: {sorted(failed_ids)}")
    return {"batchItemFailures": []}
