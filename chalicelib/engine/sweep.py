"""Lost-run recovery, run by every tick over the sparse in-flight index.

- pending well past the time its message became visible: the message was lost. It is re-dispatched once
  (a conditional mark claims the one re-dispatch); still pending a margin after that, it fails LOST.
  Pending means no invoker has started it, so re-sending cannot make a second call.
- running well past the job's timeout: the invoker died. It fails LOST and is not re-run, because the
  call may have happened; a slow invoker that finishes later is refused by its attempt condition.
A run failed LOST ends like any failed run: a `failed` event, and a count in the stats.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.engine.outcome import run_ended
from chalicelib.engine.queue import RunMessage, send
from chalicelib.observability import logger as log
from chalicelib.store import executions as execution_store
from chalicelib.store.models import ExecutionModel, JobModel

MARGIN_MS = 120_000
DEFAULT_TIMEOUT_MS = 900_000  # a job that is gone: assume the longest timeout


@dataclass
class SweepReport:
    redispatched: int = 0
    lost: int = 0


def _timeouts(items: list[ExecutionModel]) -> dict[int, int]:
    job_ids = list({int(item.jobId) for item in items if item.status == execution_store.RUNNING})
    jobs = JobModel.batch_get(job_ids) if job_ids else []
    return {int(job.id): int(job.taskConfig.get("timeout", 30_000)) for job in jobs}


def _pending(item: ExecutionModel, now: int, report: SweepReport) -> None:
    due = int(item.dueAt if item.dueAt is not None else item.slot)
    if due + MARGIN_MS > now:
        return  # its message is not late yet (a retry may be waiting out its backoff)
    keys = {"jobId": int(item.jobId), "executionId": int(item.id), "slot": int(item.slot)}
    if item.sweptAt is None:
        if execution_store.mark_swept(item, now):
            message = RunMessage(int(item.jobId), int(item.slot), item.trigger, int(item.id), dispatched_at=now)
            if not send([(message, 0)]):
                report.redispatched += 1
                log.warning("lost message: run re-dispatched", extra=keys)
    elif int(item.sweptAt) + MARGIN_MS < now and _fail_lost(item, now, "its message was lost twice"):
        report.lost += 1
        log.warning("run lost: still pending after a re-dispatch", extra=keys)


def _running(item: ExecutionModel, timeout_ms: int, now: int, report: SweepReport) -> None:
    started = int(item.attemptStartedAt or item.startedAt or item.slot)
    if started + timeout_ms + MARGIN_MS > now:
        return
    if _fail_lost(item, now, "the invoker stopped during the run; it is not retried"):
        report.lost += 1
        log.warning("run lost: invoker died", extra={"jobId": int(item.jobId), "executionId": int(item.id),
                                                     "slot": int(item.slot)})  # fmt: skip


def _fail_lost(item: ExecutionModel, now: int, reason: str) -> bool:
    if not execution_store.fail_lost(item, now, reason):
        return False
    run_ended(item, execution_store.FAILED)
    return True


def sweep(now: int) -> SweepReport:
    report = SweepReport()
    candidates = execution_store.inflight_older_than(now - MARGIN_MS)
    timeouts = _timeouts(candidates)
    for item in candidates:
        if item.status == execution_store.PENDING:
            _pending(item, now, report)
        elif item.status == execution_store.RUNNING:
            _running(item, timeouts.get(int(item.jobId), DEFAULT_TIMEOUT_MS), now, report)
    return report
