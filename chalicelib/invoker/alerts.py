"""Failure alerts: when a run ends, a job with `alerts` may become `failing` or recover; alerts go out through the
invoker queue and are delivered to the application's channels, never in the way of a run.

**When.** A run's outcome is evaluated after its final write (`outcome.run_ended`), so the run's own record is
never at stake, and a job without `alerts` reads and writes nothing more. A job with `alerts` reads, per finished
run, its open incident (one GetItem) and, after a failure with none open, its newest `afterFailures + 1` runs
(one Query): consecutive failures are derived from the history, never counted by a write per run.

**One alert per incident.** `failing` is sent by whoever opens the job's incident (a conditional put of
`incident#{jobId}` whose `ref` is the slot of the first failed run); `recovered` by whoever closes it (a
conditional delete on that `ref`), when the succeeded run is the job's newest finished one. Concurrent runs,
redelivered messages and retried evaluations meet the same conditions, so each incident sends one of each. Runs
are ordered by slot: two runs that finish out of slot order may end an incident and open the next.

**Never slow a run.** An alert is one message on the invoker queue (`AlertMessage`, no delay). Its delivery is
another invocation: it reads the application's channels, posts to each channel that lists the alert's type side by
side (10 s timeout each, through the URL guard and `http.call` like every call), records each attempt, and sends a
failed delivery (no answer, 429 or 5xx) back to the queue for that channel alone, with an SQS delay (10, 30, 90,
270 s: 5 attempts). Deliveries are at least once; the `webhook-id` is the alert's id on every attempt.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chalicelib.clock import iso, now_ms
from chalicelib.invoker import http
from chalicelib.masking import scrub
from chalicelib.observability import count
from chalicelib.observability import logger as log
from chalicelib.queue import AlertMessage, send
from chalicelib.settings import get_settings
from chalicelib.store import alerts as alert_store
from chalicelib.store import channels as channel_store
from chalicelib.store import executions as execution_store
from chalicelib.store import signing_keys as key_store
from chalicelib.store.channels import Channel
from chalicelib.store.health import counts, streak
from chalicelib.store.records import Execution, Job
from chalicelib.views import alert_body

MAX_ATTEMPTS = 5
BACKOFF_SECONDS = (10, 30, 90, 270)  # before attempts 2, 3, 4 and 5
SEND_TIMEOUT_MS = 10_000
PAGE = 100
MAX_PAGES = 20  # how far back an incident's first failure (or its failed runs) is looked for: 2,000 runs


# --- evaluation, as a run ends --------------------------------------------------------------------------------


def after_run(execution: Execution, job: Job | None) -> None:
    """A run of `job` ended succeeded or failed: open or close its incident, and enqueue the alert. Never raises
    (the run is recorded already; a failed evaluation is made good by the job's next run)."""
    if job is None or job.spec.alerts is None:
        return
    try:
        if execution.status == execution_store.SUCCEEDED:
            _maybe_recovered(job, execution)
        else:
            _maybe_failing(job)
    except Exception:  # noqa: BLE001 - an alert must never fail the run it is about
        log.exception("alert evaluation failed; the job's next run evaluates again", extra={"jobId": job.id})


def _older(job_id: int, records: list[Execution]) -> list[Execution]:
    return execution_store.newest(job_id, PAGE, below=records[-1].slot) if records else []


def _maybe_failing(job: Job) -> None:
    rule = job.spec.alerts
    assert rule is not None
    if alert_store.open_incident(job.id) is not None:
        return  # alerted already: this incident's failure goes on
    size = rule.afterFailures + 1
    records = last = execution_store.newest(job.id, size)
    # No success among them and more history: the streak began further back (alerts added to a failing job, runs
    # still in flight, an evaluation missed). Looked for only then, bounded.
    for _ in range(MAX_PAGES):
        if len(streak(records)) < sum(map(counts, records)) or len(last) < size:
            break
        last, size = _older(job.id, records), PAGE
        records = records + last
    failures = streak(records)
    if len(failures) < rule.afterFailures:
        return
    newest, since = failures[0], failures[-1].slot
    body = alert_body("failing", job, now_ms(), consecutiveFailures=len(failures), since=iso(since),
                      lastError=_error(newest), execution={"id": newest.id})  # fmt: skip
    alert_id = f"alert_{job.id}_{since}_failing"
    if not alert_store.open_new(job.id, since, {"alertId": alert_id, "openedAt": now_ms()}):
        return  # another run opened it
    if not _enqueue(AlertMessage(alert_id, job.application_id, body)):
        alert_store.close(alert_store.Incident(job.id, since, {}))  # the next failure opens it again


def _maybe_recovered(job: Job, execution: Execution) -> None:
    incident = alert_store.open_incident(job.id)
    if incident is None:
        return
    newer = [record for record in execution_store.newest(job.id, 10) if counts(record)]
    if not newer or newer[0].slot != execution.slot:
        return  # a newer run has finished: its outcome is the job's state
    failed: list[Execution] = []
    page = execution_store.newest(job.id, PAGE, below=execution.slot)
    for _ in range(MAX_PAGES):
        failed += [e for e in page if e.slot >= incident.since and counts(e) and e.status == execution_store.FAILED]
        if len(page) < PAGE or page[-1].slot < incident.since:
            break
        page = _older(job.id, page)
    if not alert_store.close(incident):
        return  # another success closed it
    finished = execution.finished_at or now_ms()
    body = alert_body("recovered", job, now_ms(), consecutiveFailures=len(failed), since=iso(incident.since),
                      failingForSeconds=max(0, finished - incident.since) // 1000,
                      lastError=_error(failed[0]) if failed else None, execution={"id": execution.id})  # fmt: skip
    alert_id = f"alert_{job.id}_{incident.since}_recovered"
    if not _enqueue(AlertMessage(alert_id, job.application_id, body)):
        alert_store.open_new(job.id, incident.since, incident.data)  # the next success closes it again


def _error(execution: Execution) -> dict[str, str] | None:
    error = execution.error or {}
    return {"code": error["code"], "message": error.get("message", "")} if "code" in error else None


def _enqueue(message: AlertMessage) -> bool:
    if send([(message, 0)]):
        log.error("alert could not be queued", extra={"alertId": message.alert_id})
        return False
    count("Alerts")
    log.info("alert queued", extra={"alertId": message.alert_id, "type": message.body["type"]})
    return True


# --- delivery -------------------------------------------------------------------------------------------------


def deliver(message: AlertMessage) -> int:
    """Deliver an alert message to its channels, side by side; returns how many accepted it."""
    channels = channel_store.all_of(message.application_id).values()
    kind = message.body["type"]
    chosen = [c for c in channels if (c.id == message.channel_id if message.channel_id else kind in c.events)]
    if not chosen:
        return 0
    with ThreadPoolExecutor(max_workers=min(8, len(chosen))) as pool:
        return sum(pool.map(lambda channel: _attempt(channel, message), chosen))


def _attempt(channel: Channel, message: AlertMessage) -> bool:
    status, error = send_to(channel, message.alert_id, message.body, message.attempt)
    delivered = error is None
    if not delivered and message.attempt < MAX_ATTEMPTS and (status is None or status == 429 or status >= 500):
        again = AlertMessage(message.alert_id, message.application_id, message.body, channel.id, message.attempt + 1)
        if not send([(again, BACKOFF_SECONDS[message.attempt - 1])]):
            count("AlertRetries")
    return delivered


def send_to(channel: Channel, alert_id: str, body: dict[str, Any], attempt: int = 1) -> tuple[int | None, Any]:
    """Post one alert to one channel and record the attempt: (the receiver's status or None, the error or None).
    A webhook gets the alert signed with the application's keys (Standard Webhooks); Slack gets `{text}`."""
    url = channel.url()
    signers: tuple[Any, ...] = ()
    if channel.type == "slack":
        payload: dict[str, Any] = {"text": slack_text(body)}
    else:
        payload = body
        signers = tuple(key_store.signers(channel.application_id, now_ms()))
    request = http.Request(method="POST", url=url, headers={}, body=payload, timeout_ms=SEND_TIMEOUT_MS,
                           message_id=alert_id, signers=signers)  # fmt: skip
    status: int | None = None
    error: dict[str, str] | None = None
    try:
        status = http.call(request).status
        if not 200 <= status < 300:
            error = {"code": f"HTTP_{status}", "message": f"the receiver answered HTTP {status}"}
    except http.CallFailed as exc:
        error = {"code": exc.code, "message": scrub(exc.message, [url, url.split("://", 1)[-1]])}
    entry = {"id": alert_id, "type": body["type"], "at": iso(now_ms()), "status": "failed" if error else "delivered",
             "httpStatus": status, "error": error, "attempt": attempt}  # fmt: skip
    try:
        alert_store.record_delivery(channel.id, entry)
    except Exception:  # noqa: BLE001 - the delivery happened; its record is best effort
        log.exception("delivery could not be recorded", extra={"channelId": channel.id})
    log.info("alert delivered" if error is None else "alert delivery failed",
             extra={"alertId": alert_id, "channelId": channel.id, "httpStatus": status, "attempt": attempt,
                    "code": error["code"] if error else None})  # fmt: skip
    return status, error


def _escaped(text: str) -> str:
    """Text as Slack reads it: &, < and > are its markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_text(body: dict[str, Any]) -> str:
    """An alert in one line of Slack text, naming the job and what happened, with a link to its page."""
    job = body.get("job") or {}
    name = f"*{_escaped(str(job.get('name', '')))}*"
    page = f" <{get_settings().gateway_url}/_/scheduler/ui#/jobs/{job.get('id')}|open the job>" if job else ""
    error = body.get("lastError") or {}
    why = f" Last error: {_escaped(error['code'])}: {_escaped(error.get('message', ''))}." if error else ""
    kind = body["type"]
    if kind == "failing":
        text = f":red_circle: Job {name} is failing: {body['consecutiveFailures']} failed run(s) in a row since " \
               f"{body['since']}.{why}"  # fmt: skip
    elif kind == "recovered":
        text = f":large_green_circle: Job {name} recovered after {body['consecutiveFailures']} failed run(s) " \
               f"over {body['failingForSeconds']} s.{why}"  # fmt: skip
    elif kind == "late":
        text = f":warning: Job {name}: the run scheduled for {body['scheduledFor']} had not started " \
               f"{body['lateAfterSeconds']} s after its time."  # fmt: skip
    else:
        text = f"Test alert from the scheduler: channel {_escaped(str(body.get('channel', '')))} works."
    return text + page
