"""CPU per run on the client side (our code and botocore, not moto): the tick and the invoker each run in a
child process against the bench's moto server, which measures its own CPU time around the work. This is
what bounds one Lambda: Python threads share one core, so a tick that costs C ms of CPU per run cannot
dispatch more than 60,000 / C runs in its minute, however many threads it has."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TICK = """
import json, resource, time
from chalicelib.engine.tick import tick
from chalicelib.clock import now_ms
r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
report = tick(now_ms())
r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
print(json.dumps({"cpu": r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime, "wall": t1 - t0,
                  "runs": report.dispatched}))
"""

FLOOR = """
import json, resource, time
from bench.engine import floor_tick
from chalicelib.clock import now_ms
r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
runs = floor_tick(now_ms() + 90_000)
r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
print(json.dumps({"cpu": r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime, "wall": t1 - t0, "runs": runs}))
"""

INVOKER = """
import json, resource, sys, time
from chalicelib.engine.queue import RunMessage
from chalicelib.invoker.run import handle_records
from chalicelib.store import executions
from chalicelib.clock import now_ms
job_id, app_id, runs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
now = now_ms()
records = []
for i in range(runs):
    slot = now - 60_000 - i
    execution = executions.create_pending(job_id, app_id, slot, "schedule", now)
    body = RunMessage(job_id, slot, "schedule", int(execution.id), dispatched_at=now).encode()
    records.append({"messageId": str(i), "receiptHandle": str(i), "body": body, "attributes": {}})
handle_records(records[:10])  # warm: clients, connections, imports on first use
r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
for start in range(10, runs, 10):
    assert handle_records(records[start:start + 10]) == []
r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
print(json.dumps({"cpu": r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime, "wall": t1 - t0,
                  "runs": runs - 10}))
"""


def child(code: str, *args: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    figures: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return figures


def tick_cpu() -> dict[str, float]:
    return child(TICK)


def floor_cpu() -> dict[str, float]:
    return child(FLOOR)


def invoker_cpu(job_id: int, app_id: int, runs: int) -> dict[str, float]:
    return child(INVOKER, str(job_id), str(app_id), str(runs))
