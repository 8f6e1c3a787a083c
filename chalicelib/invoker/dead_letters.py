"""The dead-letter queue's handler: a run message that failed every delivery (5) ends its run `failed` with the
code LOST, its event and its count, once, whatever state it was left in."""

from __future__ import annotations

from typing import Any

from chalicelib.clock import now_ms
from chalicelib.invoker.outcome import run_ended
from chalicelib.observability import count, flush
from chalicelib.observability import logger as log
from chalicelib.queue import RunMessage, decode
from chalicelib.store import engine_state
from chalicelib.store import executions as execution_store
from chalicelib.store import jobs as job_store

REASON = "its message failed every delivery and went to the dead-letter queue"


def end_run(message: RunMessage) -> bool:
    """End the run of a dead message; False when it had already ended (or its job and application are unknown)."""
    now = now_ms()
    execution = execution_store.get(message.job_id, message.slot)
    if execution is not None:
        if execution.status not in execution_store.IN_FLIGHT:
            return False
        ended = execution_store.fail(execution, now, "LOST", REASON)
    else:
        application_id = message.application_id
        if application_id is None:
            job = job_store.get(message.job_id)
            application_id = job.application_id if job else None
        if application_id is None:
            return False
        ended = execution_store.put_failed(message.job_id, application_id, message.slot, message.trigger, now, "LOST",
                                           REASON)  # fmt: skip
    if ended is None:
        return False
    log.warning("run lost: its message went to the dead-letter queue", extra={"jobId": message.job_id,
                                                                               "slot": message.slot})  # fmt: skip
    count("LostRuns")
    run_ended(ended, "failed")
    return True


def handle(records: list[dict[str, Any]]) -> dict[str, int]:
    """The dead-letter queue's SQS entry point; a message that is no run (or not ours to decode) is logged."""
    ended = 0
    for record in records:
        try:
            message = decode(record["body"])
        except (ValueError, KeyError, TypeError):
            log.error("undecodable dead letter", extra={"messageId": record.get("messageId")})
            continue
        if isinstance(message, RunMessage) and end_run(message):
            ended += 1
    engine_state.flush_outcomes()
    flush()
    return {"ended": ended}
