"""Benchmark 8: `make run`'s kept state at 1,000 jobs and 100,000 executions (chalicelib/local/durable.py).

1. A stack (`python -m chalicelib.local`, its state kept in a folder of the bench's) is given 1,000 realistic jobs
   (stored, not due) with their snapshots, and 100 finished runs of each: the items the invoker writes (a ~2 KB
   answer kept, compressed), written through its embedded AWS with BatchWriteItem. Then SIGKILL.
2. Start after that crash: the folder holds the snapshots the keeper wrote while the journal grew, and the journal
   after the last one; the time to restore it (and fold it into one snapshot), and to be ready.
3. SIGTERM: the final snapshot's size and time, and the stop's.
4. Start from that clean snapshot: the time to restore it, and to be ready.
5. Fire lag in a stack holding that state, from a copy of the folder for each way of keeping it, in turn
   (bench/kept_stack.py): `unkept` (restored, then nothing journaled), `kept` (as `make run` is), `every-5s` (kept,
   and a full snapshot written every 5 s): 20 jobs every 5 s, the lag of every run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

from bench import jobs
from bench.lag import Stack, create_jobs, local_stack, percentile

JOBS, RUNS_PER_JOB = 1_000, 100
MODES = ("unkept", "kept", "every-5s")
RESTORED = re.compile(r"state restored: (\d+) items and (\d+) messages, from a snapshot and (\d+) journal records, "
                      r"in ([\d.]+) s(?:; folded into a snapshot of (\d+) bytes in ([\d.]+) s)?")  # fmt: skip
WRITTEN = re.compile(r"state written: (\d+) bytes in ([\d.]+) s")
SNAPSHOT = re.compile(r"snapshot: (\d+) bytes in ([\d.]+) s")
READY = re.compile(r"ready in ([\d.]+) s")


def say(text: str) -> None:
    print(f"state: {text}", file=sys.stderr, flush=True)


def use_stack_aws(stack: Stack) -> None:
    """This process's boto3 and settings point at the stack's embedded AWS (the dev stage's table names)."""
    from chalicelib.settings import get_settings

    os.environ.update({"AWS_ENDPOINT_URL": f"http://127.0.0.1:{stack.moto_port}", "AWS_ACCESS_KEY_ID": "local",
                       "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_REGION": "us-east-1"})  # fmt: skip
    for name in ("APPLICATIONS_TABLE", "JOBS_TABLE", "EXECUTIONS_TABLE", "KEYS_TABLE"):
        os.environ.pop(name, None)
    get_settings.cache_clear()


def run_items(job: Any, count: int, now: int) -> list[dict[str, Any]]:
    """`count` finished runs of a per-minute job, as the invoker leaves them (one compressed payload each)."""
    from bench.local import DOCUMENT
    from chalicelib.ids import execution_id
    from chalicelib.store.executions import app_shard
    from chalicelib.store.models import ExecutionModel

    answer = {"status": 200, "headers": {"content-type": "application/json"}, "data": json.loads(DOCUMENT)}
    request = {"method": "POST", "url": f"{job.spec.taskConfig.endpoint}{job.spec.taskConfig.path}"}
    payload = zlib.compress(json.dumps({"result": answer, "request": request}, separators=(",", ":")).encode(), 6)
    first = (now // 60_000 - count) * 60_000
    items = []
    for index in range(count):
        slot = first + index * 60_000
        run_id = execution_id(slot)
        items.append({"PutRequest": {"Item": ExecutionModel(
            job.id, slot, id=run_id, applicationId=job.application_id,
            appShard=app_shard(job.application_id, run_id), status="succeeded", trigger="schedule", attempt=1,
            createdAt=slot - 5_000, startedAt=slot + 3, attemptStartedAt=slot + 3, finishedAt=slot + 45,
            durationMs=42, lagMs=3, snapshot=job.snapshot, payload=payload, expiresAt=now // 1000 + 30 * 86_400,
        ).serialize()}})  # fmt: skip
    return items


def seed(stack: Stack, quick: bool) -> dict[str, Any]:
    from chalicelib.settings import get_settings

    use_stack_aws(stack)
    count, per_job = (100, 20) if quick else (JOBS, RUNS_PER_JOB)
    app_id = stack.client.post("/applications", json={"name": "stored", "displayName": "Stored"}).json()["id"]
    started = time.monotonic()
    template = jobs.spec(app_id, "t", jobs.PER_MINUTE, jobs.realistic_task(stack.target.base))
    stored = jobs.seed(range(100_001, 100_001 + count), app_id, jobs.FAR, template, snapshots=True)
    now = int(time.time() * 1000)
    items = [item for job in stored for item in run_items(job, per_job, now)]
    jobs.batch_write(get_settings().executions_table, items)
    seconds = time.monotonic() - started
    say(f"seeded {count} jobs and {len(items)} runs in {seconds:.0f} s")
    return {"jobs": count, "executions": len(items), "seedSeconds": round(seconds, 1)}


def restored(log: str) -> dict[str, Any]:
    match = RESTORED.search(log)
    ready = READY.search(log)
    assert match and ready, log[-3000:]
    found = {"items": int(match.group(1)), "messages": int(match.group(2)), "journalRecords": int(match.group(3)),
             "restoreSeconds": float(match.group(4)), "readySeconds": float(ready.group(1))}  # fmt: skip
    if match.group(5):
        found.update({"foldedBytes": int(match.group(5)), "foldSeconds": float(match.group(6))})
    return found


def finished_runs(log: str) -> list[dict[str, Any]]:
    """The `run finished` lines the stack logged (the API's history is a moto query that walks every execution: at
    100,000 of them, reading it would weigh on the very lag it measures)."""
    runs = []
    for line in log.splitlines():
        if line.startswith("{") and '"run finished"' in line:
            runs.append(json.loads(line))
    return runs


def lag(folder: Path, mode: str, seconds: int) -> dict[str, Any]:
    """20 jobs every 5 s for `seconds` in a stack started from a copy of `folder`, keeping it as `mode` says."""
    copy = Path(tempfile.mkdtemp(prefix=f"bench-{mode}-")) / "data"
    shutil.copytree(folder, copy)
    try:
        with local_stack(copy, ("-m", "bench.kept_stack", mode)) as stack:
            app_id = stack.client.post("/applications", json={"name": "fast", "displayName": "Fast"}).json()["id"]
            job_ids = set(create_jobs(stack, app_id, [f"{n % 5}/5 * * * * *" for n in range(20)], "fast"))
            started = int(time.time() * 1000) + 5_000
            time.sleep(seconds + 5)
            ended = int(time.time() * 1000) - 3_000
            _, log = stack.stop()
    finally:
        shutil.rmtree(copy.parent, ignore_errors=True)
    lags = [int(run["lagMs"]) for run in finished_runs(log)
            if run.get("jobId") in job_ids and started <= run["slot"] < ended]  # fmt: skip
    figures: dict[str, Any] = {"jobs": 20, "seconds": seconds, "runs": len(lags),
                               "expected": round(20 * (ended - started) / 5000), "p50": percentile(lags, 0.5),
                               "p99": percentile(lags, 0.99), "max": max(lags, default=0)}  # fmt: skip
    snapshots = [(int(size), float(took)) for size, took in SNAPSHOT.findall(log)]
    if snapshots:
        figures["snapshots"] = len(snapshots)
        figures["snapshotSeconds"] = round(sum(took for _, took in snapshots) / len(snapshots), 3)
    say(f"lag {mode}: {figures}")
    return figures


def measure(quick: bool) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="bench-state-")) / "data"
    out: dict[str, Any] = {}
    try:
        with local_stack(folder) as stack:
            out["stored"] = seed(stack, quick)
            stack.stop(kill=True)
        out["journalBytes"] = sum(path.stat().st_size for path in folder.glob("journal-*.jsonl"))
        before = folder / "snapshot.jsonl"  # written while the journal grew past half of it
        out["snapshotBytesBeforeCrash"] = before.stat().st_size if before.exists() else 0
        with local_stack(folder) as stack:
            stop_seconds, log = stack.stop()
        out["afterCrash"] = restored(log)
        written = WRITTEN.search(log)
        assert written, log[-3000:]
        out["final"] = {"bytes": int(written.group(1)), "seconds": float(written.group(2)),
                        "stopSeconds": round(stop_seconds, 2)}  # fmt: skip
        say(f"after a crash {out['afterCrash']}; final snapshot {out['final']}")
        with local_stack(folder) as stack:
            _, log = stack.stop()
        out["afterStop"] = restored(log)
        say(f"after a clean stop {out['afterStop']}")
        out["lag"] = {mode: lag(folder, mode, 20 if quick else 45) for mode in MODES}
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)
    return out
