"""Run one dispatched slot: re-read the job, claim the run, resolve, guard, call, record.

A scheduled slot's message claims its run where it starts: a conditional put of the execution (job, slot) as
`running`. A second delivery of the same slot finds the record and is dropped, so a slot never runs twice. A slot
its job no longer has (deleted, disabled, rescheduled after it was sent, or older than the misfire grace) is
dropped without a write and counted as skipped. Manual runs and retries have a `pending` record, which the
invoker moves to `running` by condition.

A message whose run is `running` is a duplicate while that attempt is within the job's timeout (the invoker
running it holds its own message, which comes back if it dies). Past the timeout and a margin, the invoker died:
the run is retried (if its policy has attempts left) or fails `LOST`, by condition. Each message's visibility is
set to its job's timeout and a minute when its batch starts, so a dead invoker's run ends within minutes, not
after the queue's 16-minute visibility timeout.
"""

from __future__ import annotations

import base64
import math
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime
from typing import Any

from chalicelib import cron, queue
from chalicelib.clock import iso, now_ms
from chalicelib.codes import Ended, Handled
from chalicelib.contracts.headers import (
    ATTEMPT_HEADER,
    EXECUTION_ID_HEADER,
    JOB_ID_HEADER,
    RESERVED_HEADERS,
    SCHEDULED_FOR_HEADER,
)
from chalicelib.contracts.models import AUTH_HEADER, MASK, RetryPolicy
from chalicelib.cron import MISFIRE_GRACE_MS
from chalicelib.invoker import alerts, expect, guard, http, params
from chalicelib.invoker.outcome import run_ended, run_started, skipped
from chalicelib.masking import credential_headers, forms_of, scrub, scrub_all, secret_forms
from chalicelib.observability import count, flush, milliseconds, run_context, tracer
from chalicelib.observability import logger as log
from chalicelib.queue import AlertMessage, EngineMessage, RunMessage, decode, delay_for, send
from chalicelib.settings import get_settings
from chalicelib.signing import Signer
from chalicelib.store import applications as app_store
from chalicelib.store import engine_state
from chalicelib.store import executions as execution_store
from chalicelib.store import jobs as job_store
from chalicelib.store import signing_keys as key_store
from chalicelib.store import variables as variable_store
from chalicelib.store.records import Execution, Job
from chalicelib.views import job_snapshot, resolved_values, run_snapshot

MAX_EARLY_WAIT_MS = 2_000
RETRYABLE_CODES = frozenset({"ETIMEDOUT", "ECONNREFUSED", "ECONNRESET", "ENOTFOUND"})
STALE_MARGIN_MS = 30_000  # a running attempt this long past its job's timeout has lost its invoker
OVERLAP_WAIT_SECONDS = 5  # a backfill run of a `forbid` job tries again this long after meeting another in flight
VISIBILITY_MARGIN_SECONDS = 60  # a message comes back this long after its job's timeout if its invoker dies


class KeepMessage(Exception):
    """The message must stay in the queue: the run it stands for is still within its (grown) timeout, and this
    delivery is the only one left to end it if its invoker dies."""


@dataclass(frozen=True)
class Delivery:
    """How the message reached this invoker: its receive count, and its receipt (to hold it longer)."""

    receive_count: int = 1
    receipt: str | None = None
    timeout: int | None = None  # the job's timeout (seconds) when the message was sent, for a job now gone


@dataclass
class Outcome:
    status: Ended
    result: dict[str, Any] | None = None
    error: dict[str, str] | None = None
    request: dict[str, Any] | None = None
    resolved: dict[str, Any] = field(default_factory=dict)
    called_at: int | None = None  # when the request went out: the attempt's real start


def _auth_headers(auth: dict[str, str] | None) -> dict[str, str]:
    if not auth:
        return {}
    if auth["authMethod"] == "bearer":
        return {AUTH_HEADER: f"Bearer {auth['token']}"}
    if auth["authMethod"] == "basic":
        pair = f"{auth['username']}:{auth['password']}".encode()
        return {AUTH_HEADER: "Basic " + base64.b64encode(pair).decode()}
    return {auth["headerName"]: auth["key"]}


# --- the call ----------------------------------------------------------------------------------------------


def perform(job: Job, execution: Execution, resolver: guard.Resolver | None = None) -> Outcome:
    """Resolve parameters at the slot's time, guard the URL, make the call (signed, with the run's identity),
    classify the answer. Never raises: whatever the job holds or the target sends, the run ends with a code, and no
    error message carries a header value, token, password, key or secret variable."""
    secrets = secret_forms(job.task_config, {})
    try:
        variables = _variables(job)
        secrets = forms_of(variables.secret.values()) + secrets
        outcome, sent = _perform(job, execution, resolver, variables)
        secrets = secret_forms(job.task_config, sent) + secrets
    except Exception as exc:  # noqa: BLE001 - a run must finish; the cause is logged without its message
        log.error("run could not be performed", extra={"exception": type(exc).__name__})
        outcome = Outcome(
            "failed", error={"code": "CALL_ERROR", "message": f"the run could not be performed ({type(exc).__name__})"}
        )
    if outcome.error is not None:
        outcome.error = {**outcome.error, "message": scrub(outcome.error["message"], secrets)}
    return outcome


MIN_SCRUBBED = 4  # a shorter credential would mask ordinary text of the answer, and tells little


@dataclass(frozen=True)
class Variables:
    """The values of the variables a job refers to; `shown` has the secret ones masked (what a record may show)."""

    values: dict[str, str] = field(default_factory=dict)
    shown: dict[str, str] = field(default_factory=dict)

    @property
    def secret(self) -> dict[str, str]:
        return {name: value for name, value in self.values.items() if self.shown.get(name) == MASK}


def _variables(job: Job) -> Variables:
    """One read of the application's variables, only when the job refers to one (built-ins need none)."""
    names = params.references(job.task_config)
    if not names:
        return Variables()
    built_in = {"GATEWAY_URL": get_settings().gateway_url, "JOB_NAME": job.name}
    if "APPLICATION" in names:
        app = app_store.get(job.application_id)
        built_in["APPLICATION"] = app.name if app else ""
    stored = variable_store.all_of(job.application_id) if names - set(built_in) else {}
    values = {name: v.value for name, v in stored.items() if name in names}
    shown = {name: (MASK if stored[name].secret else value) for name, value in values.items()}
    return Variables({**values, **built_in}, {**shown, **built_in})


def identity(job: Job, execution: Execution) -> dict[str, str]:
    """The run's identity headers: the same job, execution and slot on every attempt, and the attempt's number."""
    return {JOB_ID_HEADER: str(job.id), EXECUTION_ID_HEADER: str(execution.id),
            SCHEDULED_FOR_HEADER: iso(execution.slot) or "", ATTEMPT_HEADER: str(execution.attempt)}  # fmt: skip


def _signers(job: Job, config: dict[str, Any]) -> tuple[Signer, ...]:
    """The application's active keys (read on every run: a key created or retired counts from the next request);
    none when the job opted out with `sign: false`."""
    if config.get("sign") is False:
        return ()
    return tuple(key_store.signers(job.application_id, now_ms()))


def _perform(job: Job, execution: Execution, resolver: guard.Resolver | None,
             variables: Variables) -> tuple[Outcome, dict[str, str]]:  # fmt: skip
    slot = execution.slot
    try:
        config = params.resolve_task_config(job.task_config, slot, job.timezone, variables.values)
        # The record keeps `${NAME}` as written (the time parameters resolved): values show in the request's URL
        shown = config
        if variables.values:
            as_written = {name: f"${{{name}}}" for name in variables.values}
            shown = params.resolve_task_config(job.task_config, slot, job.timezone, as_written)
    except params.ParamError as exc:
        return Outcome("failed", error={"code": "PARAM_ERROR", "message": str(exc)}), {}
    resolved = resolved_values(job_snapshot(job)["taskConfig"], shown)
    headers = {**(config.get("headers") or {}), **_auth_headers(config.get("auth"))}
    try:
        url, _ = guard.compose(config)
    except guard.UrlRefused as exc:
        reason = scrub_all(exc.reason, list(variables.secret.values()))
        return Outcome("failed", error={"code": "URL_NOT_ALLOWED", "message": reason}, resolved=resolved), headers
    method = config.get("method", "GET")
    own = {name: value for name, value in headers.items() if name.lower() not in RESERVED_HEADERS}
    request = http.Request(method=method, url=url, headers={**own, **identity(job, execution)},
                           body=config.get("body"), timeout_ms=int(config.get("timeout", 30_000)),
                           credential_headers=credential_headers(config), message_id=f"run_{execution.id}",
                           signers=_signers(job, config))  # fmt: skip
    sent = {"method": method, "url": scrub_all(url, list(variables.secret.values()))}
    called = now_ms()
    try:
        response = http.call(request, resolver=resolver)
    except http.CallFailed as exc:
        error = {"code": exc.code, "message": exc.message}
        return Outcome("failed", error=error, request=sent, resolved=resolved, called_at=called), headers
    # What the target sends back is kept, but not a credential it echoes: secret variables, credential headers
    credentials = [value for name, value in headers.items() if name.lower() in request.credential_headers]
    kept = [value for value in (*variables.secret.values(), *credentials) if len(value) >= MIN_SCRUBBED]
    limit = get_settings().result_body_bytes
    result = scrub_all(response.as_result(limit), kept)
    if config.get("expect") is not None:
        why = expect.miss(config["expect"], response, limit)
        if why is None:
            return Outcome("succeeded", result=result, request=sent, resolved=resolved, called_at=called), headers
        error = {"code": "UNEXPECTED_RESPONSE", "message": why}
        return Outcome("failed", result=result, error=error, request=sent, resolved=resolved, called_at=called), headers
    if 200 <= response.status < 300:
        return Outcome("succeeded", result=result, request=sent, resolved=resolved, called_at=called), headers
    error = {"code": f"HTTP_{response.status}", "message": f"the target answered HTTP {response.status}"}
    return Outcome("failed", result=result, error=error, request=sent, resolved=resolved, called_at=called), headers


# --- which messages run ---------------------------------------------------------------------------------------


def _rescheduled(job: Job, message: RunMessage) -> bool:
    """The job was edited after dispatch and its schedule no longer has this slot."""
    if message.dispatched_at is None or job.updated_at <= message.dispatched_at:
        return False
    if job.pattern is None:
        return job.run_at != message.slot
    return not cron.fires_at(job.pattern, job.timezone, message.slot) or not job.in_window(message.slot)


def _misfired(job: Job, slot: int, now: int) -> bool:
    """A run that reaches the invoker more than the misfire grace after its slot (the engine or its queue was
    down) follows the job's misfirePolicy: `skip` runs none of them; `fire_once` runs only the latest missed slot,
    the one whose next slot is not itself missed. So an outage never ends in a burst of old runs. Times count
    from each slot's planned start (its jitter offset added)."""
    if now - job.planned_at(slot) <= MISFIRE_GRACE_MS:
        return False
    if job.spec.misfirePolicy == "skip":
        return True
    if job.pattern is None:
        return False  # a one-off job's only slot is its latest
    following = cron.next_in_window(job.pattern, job.timezone, slot, job.start_at, job.end_at)
    return following is not None and job.planned_at(following) < now - MISFIRE_GRACE_MS


def _taken_away(job: Job | None, message: RunMessage) -> str | None:
    """Why a scheduled slot no longer runs (its job was deleted, disabled or rescheduled after it was sent, or it
    is a missed slot), or None."""
    if job is None:
        return "JOB_DELETED"
    if not job.enabled:
        return "JOB_DISABLED"
    if _rescheduled(job, message):
        return "JOB_RESCHEDULED"
    if message.first_attempt and message.missed is None and _misfired(job, message.slot, now_ms()):
        count("MisfiresSkipped")
        return "MISFIRE_SKIPPED"
    return None


def _too_early(message: RunMessage, planned: int) -> bool:
    """A message more than MAX_EARLY_WAIT_MS (and the delivery lead) before its run's planned start goes back to
    the queue (a jittered slot may lie beyond SQS's 15-minute delay when it is sent)."""
    if planned - now_ms() <= MAX_EARLY_WAIT_MS + get_settings().delivery_lead_seconds * 1000:
        return False
    send([(replace(message, planned_at=planned), delay_for(planned, now_ms()))])
    return True


def _wait_for(slot: int) -> None:
    """Start on the slot's second: the message arrives up to a second early (SQS delays are whole seconds)."""
    early = slot - now_ms()
    if early > 0:
        time.sleep(early / 1000)


# --- one message ----------------------------------------------------------------------------------------------


def run_message(
    message: RunMessage, resolver: guard.Resolver | None = None, delivery: Delivery = Delivery()
) -> Handled:
    """Run one message; returns what happened: ran, retrying, duplicate, skipped, lost or requeued. Raises
    KeepMessage when the message must come back later."""
    with run_context(jobId=message.job_id, slot=message.slot):
        try:
            return _run(message, resolver, delivery)
        except KeepMessage:
            raise
        except Exception:
            log.exception("run failed before its outcome was recorded; the message will be retried")
            raise


@tracer.capture_method(capture_response=False)
def _run(message: RunMessage, resolver: guard.Resolver | None, delivery: Delivery) -> Handled:
    job = job_store.get(message.job_id)
    if message.first_attempt:
        reason = _taken_away(job, message)
        if reason is None:
            assert job is not None
            return _claimed(job, message, resolver, delivery)
        existing = execution_store.get(message.job_id, message.slot)  # read only when a slot would be dropped
        if existing is None:
            log.info("slot dropped", extra={"reason": reason})
            skipped(message.application_id or (job.application_id if job else 0), now_ms())
            return "skipped"
        return _recorded(job, message, existing, resolver, delivery)
    execution = execution_store.get(message.job_id, message.slot)
    if execution is None:
        return _duplicate(job)
    return _recorded(job, message, execution, resolver, delivery)


def _recorded(job: Job | None, message: RunMessage, execution: Execution, resolver: guard.Resolver | None,
              delivery: Delivery) -> Handled:  # fmt: skip
    """A message whose run has a record: a duplicate of a finished run, a run to start (pending), or a run whose
    invoker may have died (running); a run whose job is gone or disabled (scheduled) ends here."""
    if execution.status in execution_store.FINAL:
        return _duplicate(job)
    if execution.status == execution_store.RUNNING:
        return _running_already(job, execution, resolver, replace(delivery, timeout=message.timeout))
    if job is None or (execution.trigger == "schedule" and not job.enabled):
        reason = "JOB_DELETED" if job is None else "JOB_DISABLED"
        ended = execution_store.fail(execution, now_ms(), reason, "the job was deleted or disabled before this run")
        if ended is not None:
            run_ended(ended, "skipped")
        return "skipped"
    if (execution.trigger == "backfill" and job.spec.concurrencyPolicy == "forbid"
            and execution_store.other_in_flight(job.id, execution.slot)):  # fmt: skip
        send([(message, OVERLAP_WAIT_SECONDS)])  # a backfill run waits its turn rather than being skipped
        return "requeued"
    started = execution_store.start(execution, now_ms(), job.snapshot)
    if started is None:
        return _duplicate(job)
    return _execute(job, started, resolver)


def _claimed(job: Job, message: RunMessage, resolver: guard.Resolver | None, delivery: Delivery) -> Handled:
    if job.spec.concurrencyPolicy == "forbid" and execution_store.earlier_in_flight(job.id, message.slot):
        log.info("slot skipped: the previous run is still in flight", extra={"applicationId": job.application_id})
        count("OverlapSkipped")
        reason = "the previous run was still pending or running (concurrencyPolicy forbid)"
        ended = execution_store.put_failed(job.id, job.application_id, message.slot, "schedule", now_ms(),
                                           "SKIPPED_OVERLAP", reason)  # fmt: skip
        if ended is not None:
            run_ended(ended, "skipped")
        return "skipped"
    if _too_early(message, job.planned_at(message.slot)):
        return "requeued"
    # Claimed while the message waits out its early arrival, so that on the slot's second only the call is left
    # to do: a run's start and lag are those of its call, recorded when it finishes.
    execution = execution_store.claim(job.id, job.application_id, message.slot, now_ms(), snapshot=job.snapshot,
                                      missed_slots=message.missed)  # fmt: skip
    if execution is None:
        existing = execution_store.get(job.id, message.slot)
        if existing is None or existing.status != execution_store.RUNNING:
            return _duplicate(job)
        return _running_already(job, existing, resolver, replace(delivery, timeout=message.timeout))
    return _execute(job, execution, resolver)


def _duplicate(job: Job | None) -> Handled:
    log.info("duplicate delivery dropped", extra={"applicationId": job.application_id if job else None})
    count("DuplicateDeliveries")
    return "duplicate"


def _running_already(
    job: Job | None, execution: Execution, resolver: guard.Resolver | None, delivery: Delivery
) -> Handled:
    """A message for a run that is `running`. Within its job's timeout, its invoker is still at it: a first delivery
    is a duplicate (the message that invoker holds comes back if it dies); a redelivery is kept and held for the
    timeout the job has now (it may have grown since the message was sent). Past the timeout and a margin, the
    invoker died: the run is retried now if the job is still there and its policy has attempts left, else it ends
    failed LOST. Every step is conditional, so two deliveries never both act."""
    now = now_ms()
    timeout_ms = job.timeout_ms if job is not None else (delivery.timeout or 900) * 1000
    started = execution.attempt_started_at or execution.started_at or execution.slot
    if started + timeout_ms + STALE_MARGIN_MS > now:
        if delivery.receive_count <= 1 or delivery.receipt is None:
            return _duplicate(job)
        queue.change_visibility([(delivery.receipt, timeout_ms // 1000 + VISIBILITY_MARGIN_SECONDS)])
        raise KeepMessage(f"attempt {execution.attempt} is still within its job's timeout")
    error = {"code": "LOST", "message": "the invoker stopped during this attempt"}
    attempts = [*execution.attempts, {"at": iso(started), "error": error}]
    may_retry = job is not None and (job.enabled or execution.trigger == "manual")
    if (
        may_retry
        and job is not None
        and execution.attempt < RetryPolicy.model_validate(job.spec.retryPolicy).maxAttempts
    ):
        taken = execution_store.take_over(execution, now, attempts)
        if taken is None:
            return _duplicate(job)
        count("Retries")
        log.warning("run taken over from an invoker that died", extra={"attempt": taken.attempt})
        return _execute(job, taken, resolver)
    ended = execution_store.fail(execution, now, "LOST", "the invoker stopped during the run; no attempt is left")
    if ended is None:
        return _duplicate(job)
    count("LostRuns")
    log.warning("run lost: its invoker died", extra={"executionId": execution.id})
    run_ended(ended, "failed", job)
    return "lost"


def _execute(job: Job, execution: Execution, resolver: guard.Resolver | None) -> Handled:
    planned = job.planned_at(execution.slot, execution.trigger)
    _wait_for(planned)
    if execution.attempt == 1:
        run_started(execution, job)
    outcome = perform(job, execution, resolver)
    called = outcome.called_at or execution.attempt_started_at
    attempts = [*execution.attempts, {"at": iso(called), "error": outcome.error}]
    if _retry(job, execution, outcome, attempts):
        return "retrying"
    inline = None if job.snapshot else run_snapshot(job_snapshot(job), {"resolved": outcome.resolved,
                                                                        "request": outcome.request})  # fmt: skip
    finished = execution_store.finish(execution, outcome.status, now_ms(), result=outcome.result, error=outcome.error,
                                      attempts=attempts, request=outcome.request, resolved=outcome.resolved or None,
                                      job_snapshot=inline, called_at=outcome.called_at,
                                      planned_at=planned)  # fmt: skip
    if finished is None:
        log.warning("execution was taken over before it finished; outcome dropped")
        return "duplicate"
    _observe(finished, outcome)
    run_ended(finished, outcome.status, job)
    if job.pattern is None and finished.trigger == "schedule":
        job_store.complete(job.id, finished.finished_at or now_ms())
    return "ran"


# --- retries ---------------------------------------------------------------------------------------------------


def retryable(error: dict[str, str] | None, status: int | None = None) -> bool:
    """Timeouts, connection errors, 429 and 5xx (an answer that missed the job's `expect` too, by its status);
    never other 4xx, URL_NOT_ALLOWED or PARAM_ERROR."""
    code = (error or {}).get("code", "")
    if code == "UNEXPECTED_RESPONSE":
        return status is not None and (status == 429 or 500 <= status <= 599)
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


def _retry(job: Job, execution: Execution, outcome: Outcome, attempts: list[dict[str, Any]]) -> bool:
    """Hand a retryable failure back to the queue with a delay; True when a retry is on its way."""
    policy = RetryPolicy.model_validate(job.spec.retryPolicy)
    status = (outcome.result or {}).get("status")
    if outcome.status != "failed" or not retryable(outcome.error, status) or execution.attempt >= policy.maxAttempts:
        return False
    retry_after = ((outcome.result or {}).get("headers") or {}).get("retry-after")
    delay = retry_delay(policy, execution.attempt, retry_after)
    now = now_ms()
    again = RunMessage(execution.job_id, execution.slot, execution.trigger, execution.application_id,
                       dispatched_at=now, due_at=now + delay * 1000, timeout=job.timeout_ms // 1000)  # fmt: skip
    if send([(again, delay)]):
        return False  # the queue refused: record this attempt's outcome as final
    planned = job.planned_at(execution.slot, execution.trigger)
    if execution_store.retry_later(execution, attempts, now + delay * 1000, outcome.called_at, planned) is None:
        return True  # another delivery owns the execution now; the new message will be dropped
    count("Retries")
    code = outcome.error["code"] if outcome.error else None
    log.info("run will be retried", extra={"attempt": execution.attempt, "code": code, "delaySeconds": delay})
    return True


def _observe(execution: Execution, outcome: Outcome) -> None:
    code = outcome.error["code"] if outcome.error else None
    log.info("run finished", extra={"applicationId": execution.application_id, "executionId": execution.id,
                                    "status": outcome.status, "code": code, "trigger": execution.trigger,
                                    "lagMs": execution.lag_ms, "durationMs": execution.duration_ms})  # fmt: skip
    count("RunSucceeded" if outcome.status == "succeeded" else "RunFailed")
    milliseconds("RunDuration", float(execution.duration_ms or 0))
    if execution.trigger == "schedule":
        milliseconds("FireLag", float(execution.lag_ms or 0))


# --- a batch ---------------------------------------------------------------------------------------------------


# The tick's fanned-out shards and paused jobs to resume travel on the same queue; they are the engine's, and the
# handler that wires both (app.py) says where they go.
ShardHandler = Callable[[EngineMessage], object]


def _run_record(record: dict[str, Any], resolver: guard.Resolver | None, shards: ShardHandler | None) -> bool:
    if int(record.get("attributes", {}).get("ApproximateReceiveCount", 1)) > 1:
        count("Redeliveries")  # SQS redelivered this message after a failed or lost invoker batch
    try:
        message = decode(record["body"])
    except (ValueError, KeyError, TypeError):
        log.exception("undecodable message", extra={"messageId": record.get("messageId")})
        return False
    delivery = Delivery(
        int(record.get("attributes", {}).get("ApproximateReceiveCount", 1)), record.get("receiptHandle")
    )
    try:
        if isinstance(message, AlertMessage):
            alerts.deliver(message)  # a failed delivery is sent back to the queue for its channel, delayed
        elif not isinstance(message, RunMessage):
            if shards is None:
                log.error("an engine message reached an invoker without an engine handler")
                return False
            shards(message)
        else:
            run_message(message, resolver, delivery)
    except KeepMessage:
        log.info("message kept: its run is still within its job's timeout")
        return False
    except Exception:  # noqa: BLE001 - logged with the run's keys; one failure must not rerun the batch
        return False
    return True


def _hold(records: list[dict[str, Any]]) -> None:
    """Each run's message stays invisible for its job's timeout and a margin: if this invoker dies, the message
    comes back soon and its redelivery ends or retries the run (one request per batch)."""
    entries: list[tuple[str, int]] = []
    for record in records:
        try:
            message = decode(record["body"])
        except (ValueError, KeyError, TypeError):
            continue
        if isinstance(message, RunMessage) and "receiptHandle" in record:
            entries.append((record["receiptHandle"], (message.timeout or 900) + VISIBILITY_MARGIN_SECONDS))
    if entries:
        queue.change_visibility(entries)


def handle_records(records: list[dict[str, Any]], resolver: guard.Resolver | None = None,
                   shards: ShardHandler | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Run an SQS batch, its messages side by side (runs of one slot start together, not in a queue);
    returns the records that failed (to be retried), the rest are done."""
    _hold(records)
    if len(records) <= 1:
        outcomes = [_run_record(record, resolver, shards) for record in records]
    else:
        with ThreadPoolExecutor(max_workers=len(records)) as pool:
            outcomes = list(pool.map(lambda record: _run_record(record, resolver, shards), records))
    engine_state.flush_outcomes()
    flush()
    return [record for record, ok in zip(records, outcomes, strict=True) if not ok]


class BatchPartlyFailed(Exception):
    """Raised after deleting the handled messages, so SQS redelivers only the failed ones."""


def handle_batch(records: list[dict[str, Any]], shards: ShardHandler | None = None) -> dict[str, list[dict[str, str]]]:
    """The SQS entry point. Works with and without ReportBatchItemFailures on the event source:
    handled messages are deleted before raising, so a failure never makes the rest run again."""
    failed = handle_records(records, shards=shards)
    if failed:
        failed_ids = {record["messageId"] for record in failed}
        queue.delete([record["receiptHandle"] for record in records if record["messageId"] not in failed_ids])
        raise BatchPartlyFailed(f"{len(failed)} of {len(records)} messages failed: {sorted(failed_ids)}")
    return {"batchItemFailures": []}
