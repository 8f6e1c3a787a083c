"""Benchmark 5: DynamoDB units per scheduled run of a realistic job, metered request by request (bench/meter.py),
the tick side and the invoker side apart.

Tick side: a fleet of jobs of one pattern through an hour of minute ticks (`tick(now)` with `now` stepped a
minute at a time, the first tick left out as warm-up), so the figure is the steady state: one advance of a
job's cursor per window of slots sent. Invoker side: runs delivered as the SQS event source delivers them
(batches of 10 received from the queue, `handle_records`, the batch deleted), the handler's requests metered.
"""

from __future__ import annotations

import time
from typing import Any

from bench import jobs
from bench.local import purge_queue
from bench.meter import Meter, by_operation, by_table, total
from chalicelib.clock import now_ms
from chalicelib.store.records import Job

HOUR_MS = 3_600_000


def tick_side(meter: Meter, app_id: int, job_ids: range, pattern: str, base: str, minutes: int = 61) -> dict[str, Any]:
    """`minutes` ticks, one a minute at :30, over jobs of `pattern` whose first slot is the next hour; units
    of every tick but the first, per slot dispatched (runs) and per cursor advance."""
    from chalicelib.engine.tick import tick

    hour = -(-(now_ms() + 120_000) // HOUR_MS) * HOUR_MS
    jobs.seed(job_ids, app_id, hour, jobs.spec(app_id, "t", pattern, jobs.realistic_task(base)))
    tick(hour - 30_000)  # warm-up: the jobs' first window
    mark = meter.snapshot()
    dispatched = advanced = ticks = 0
    for minute in range(1, minutes):
        report = tick(hour - 30_000 + minute * 60_000)
        dispatched, advanced, ticks = dispatched + report.dispatched, advanced + report.advanced, ticks + 1
    requests, units = meter.since(mark)
    purge_queue()
    jobs.remove(job_ids)
    writes, reads = by_operation(units, "WRU"), by_operation(units, "RRU")
    runs = max(1, dispatched)
    return {
        "pattern": pattern, "jobs": len(job_ids), "ticks": ticks, "runs": dispatched, "advances": advanced,
        "slotsPerAdvance": dispatched / max(1, advanced),
        "wru": total(units, "WRU", "jobs") / runs,
        "rru": reads.get("jobs BatchGetItem", 0.0) / runs,
        "wruPerAdvance": total(units, "WRU", "jobs") / max(1, advanced),
        # fixed per tick whatever runs: the due queries (an empty one still reads 0.5), the tick's record
        "perTick": {"rru": reads.get("jobs Query", 0.0) / ticks, "wru": writes.get("keys PutItem", 0.0) / ticks},
        "requests": {k: v / runs for k, v in requests.items()},
    }  # fmt: skip


def _records(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
             "attributes": m.get("Attributes", {})} for m in messages]  # fmt: skip


def deliver(meter: Meter, expected: int, deadline_s: float = 60) -> tuple[dict[str, int], dict[str, float], int]:
    """What Lambda's event source does, until `expected` messages were handled: receive up to 10, call the
    handler, delete the batch. Returns the handler's requests and units (not the receive and delete) and the
    batches."""
    from collections import Counter

    from chalicelib import queue
    from chalicelib.invoker.run import handle_records

    sqs, url = queue.client(), queue.queue_url()
    requests: Counter[str] = Counter()
    units: dict[str, float] = {}
    handled = batches = 0
    deadline = time.monotonic() + deadline_s
    while handled < expected and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2,
                                       AttributeNames=["All"]).get("Messages", [])  # fmt: skip
        if not messages:
            continue
        mark = meter.snapshot()
        failed = handle_records(_records(messages))
        asked, used = meter.since(mark)
        assert not failed, f"{len(failed)} runs failed in the bench"
        requests.update(asked)
        for key, value in used.items():
            units[key] = units.get(key, 0.0) + value
        queue.delete([m["ReceiptHandle"] for m in messages])
        handled, batches = handled + len(messages), batches + 1
    assert handled >= expected, f"only {handled} of {expected} messages arrived"
    return dict(requests), units, batches


def invoker_side(meter: Meter, app_id: int, fleet: list[Job], retrying: bool = False) -> dict[str, Any]:
    """One scheduled run of each job of `fleet`, sent as the tick sends it (first attempt) and delivered in
    batches of 10; with `retrying`, each first attempt answers 503 (Retry-After: 1) and its retry succeeds."""
    from chalicelib.queue import RunMessage, send
    from chalicelib.store import executions as execution_store

    meter.sizes.clear()
    now = now_ms()
    slots = {job.id: now - 2_000 - index for index, job in enumerate(fleet)}
    messages = [(RunMessage(job.id, slots[job.id], "schedule", app_id, dispatched_at=now, timeout=30), 0)
                for job in fleet]  # fmt: skip
    assert not send(messages)
    requests, units, batches = deliver(meter, len(fleet) * (2 if retrying else 1))
    runs = len(fleet)
    for job in fleet:
        execution = execution_store.get(job.id, slots[job.id])
        assert execution is not None and execution.status == "succeeded", execution
        assert execution.attempt == (2 if retrying else 1), execution.attempt
    sizes = {key.split(":")[0]: max(values) for key, values in meter.sizes.items() if "executions" in key}
    return {
        "runs": runs, "batches": batches, "wru": total(units, "WRU") / runs, "rru": total(units, "RRU") / runs,
        "wruByTable": by_table(units, "WRU", runs), "rruByTable": by_table(units, "RRU", runs),
        "wruByOperation": by_operation(units, "WRU", runs), "requests": {k: v / runs for k, v in requests.items()},
        "executionBytes": sizes,
    }  # fmt: skip
