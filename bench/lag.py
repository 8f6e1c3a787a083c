"""Benchmark 4: through the real local stack (`python -m chalicelib.local`, what `make run` runs, on free ports):
its idle CPU, then realistic jobs created through the API all firing on the same minute slots: each slot run
exactly once, fire lag, and the stack process's CPU per run; and a shorter every-5-seconds lag figure."""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import jwt

from bench import jobs
from bench.local import Target, free_port
from chalicelib.auth import ADMIN_ROLE

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-0123456789abcdef0123456789"  # noqa: S105 - a throwaway local stack's secret
TICKS = os.sysconf("SC_CLK_TCK")


def percentile(values: list[int], fraction: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] if ordered else 0


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process, all its threads (/proc/<pid>/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


@dataclass
class Stack:
    process: subprocess.Popen[bytes]
    client: httpx.Client
    target: Target
    log: Path
    moto_port: int

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)

    def stop(self, kill: bool = False) -> tuple[float, str]:
        """SIGTERM (or SIGKILL): the seconds until the process is gone, and everything it logged."""
        started = time.monotonic()
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        self.process.wait(30)
        return time.monotonic() - started, self.log.read_text()


@contextlib.contextmanager
def local_stack(data_dir: Path | None = None, command: tuple[str, ...] = ("-m", "chalicelib.local")) -> Iterator[Stack]:
    """`make run` as a user starts it, with its own JWT_SECRET (the banner then prints no token: the bench signs
    one), a local target allowed, events off, its state kept in `data_dir` (default: a folder of its own, removed
    afterwards); stopped (and killed if need be) on the way out. `command`: what Python runs."""
    target = Target()
    port, moto_port = free_port(), free_port()
    own_folder = data_dir is None
    folder = data_dir or Path(tempfile.mkdtemp(prefix="bench-state-"))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "JOBS_", "KEYS_", "EXECUTIONS_", "APPLI", "INVOKER_", "EVENT_", "POWERTOOLS_",
                                "MOTO_"))}  # fmt: skip
    env.update({"PORT": str(port), "MOTO_PORT": str(moto_port), "ALLOWED_TARGET_HOSTS": f"127.0.0.1:{target.port}",
                "PYTHONUNBUFFERED": "1", "JWT_SECRET": SECRET, "EXECUTION_EVENTS": "none",
                "DATA_DIR": str(folder)})  # fmt: skip
    env.pop("GATEWAY_URL", None)
    log = Path(tempfile.mkstemp(suffix=".log")[1])
    with log.open("w") as sink:  # a file, not a pipe: a full pipe would block the stack
        process = subprocess.Popen([sys.executable, *command], cwd=ROOT, env=env, stdout=sink,
                                   stderr=subprocess.STDOUT)  # fmt: skip
    client = None
    try:
        deadline = time.monotonic() + 300  # a start restoring 100,000 executions takes a while
        while "The demo job" not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the local stack did not start:\n" + log.read_text()[-4000:])
            time.sleep(0.2)
        assert SECRET not in log.read_text() and "export TOKEN=ey" not in log.read_text()
        token = jwt.encode({"sub": "bench", "roles": [ADMIN_ROLE], "exp": int(time.time()) + 3600}, SECRET,
                           algorithm="HS256")  # fmt: skip
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}/_/scheduler",
                              headers={"Authorization": f"Bearer {token}"}, timeout=60)  # fmt: skip
        yield Stack(process, client, target, log, moto_port)
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        if client is not None:
            client.close()
        target.close()
        log.unlink(missing_ok=True)
        if own_folder:
            shutil.rmtree(folder, ignore_errors=True)


def idle_cpu(stack: Stack, seconds: int) -> dict[str, float]:
    """The stack's CPU over `seconds` with nothing but the demo job (percent of one core)."""
    before, started = stack.cpu(), time.monotonic()
    time.sleep(seconds)
    used, elapsed = stack.cpu() - before, time.monotonic() - started
    return {"seconds": round(elapsed, 1), "cpuSeconds": round(used, 2), "percent": round(100 * used / elapsed, 2)}


def create_jobs(stack: Stack, app_id: int, patterns: list[str], prefix: str) -> list[int]:
    """Realistic jobs through the API (POST /jobs), 4 clients at a time."""

    def create(index: int) -> int:
        body = {"applicationId": app_id, "name": f"{prefix}-{index}", "pattern": patterns[index],
                "taskType": "HttpInvokerTask", "retryPolicy": {"maxAttempts": 1},
                "taskConfig": jobs.realistic_task(stack.target.base, path=f"/v1/orders/sync/{index}")}  # fmt: skip
        response = stack.client.post("/jobs", json=body)
        response.raise_for_status()
        return int(response.json()["id"])

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(create, range(len(patterns))))


def executions(stack: Stack, job_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    def runs(job_id: int) -> list[dict[str, Any]]:
        response = stack.client.get(f"/jobs/{job_id}/executions", params={"limit": 200})
        response.raise_for_status()
        found: list[dict[str, Any]] = response.json()
        return found

    with ThreadPoolExecutor(4) as pool:
        return dict(zip(job_ids, pool.map(runs, job_ids), strict=True))


def slot_ms(run: dict[str, Any]) -> int:
    return int(datetime.fromisoformat(run["scheduledFor"].replace("Z", "+00:00")).timestamp() * 1000)


def minute_slots(stack: Stack, count: int, slots: int) -> dict[str, Any]:
    """`count` per-minute jobs created through the API, then `slots` minute slots after the last is created:
    the stack's CPU over each minute around a slot (20 s before to 40 s after), every job's runs of those slots
    counted (exactly one each), and their lag."""
    app_id = stack.client.post("/applications", json={"name": "bench", "displayName": "Bench"}).json()["id"]
    started = time.monotonic()
    job_ids = create_jobs(stack, app_id, [jobs.PER_MINUTE] * count, "minute")
    created_s = time.monotonic() - started
    first = -(-(int(time.time() * 1000) + 25_000) // 60_000) * 60_000
    wanted = [first + 60_000 * index for index in range(slots)]
    cpu_per_minute = []
    for slot in wanted:
        time.sleep(max(0.0, (slot - 20_000) / 1000 - time.time()))
        before = stack.cpu()
        time.sleep(max(0.0, (slot + 40_000) / 1000 - time.time()))
        cpu_per_minute.append(stack.cpu() - before)
    found = executions(stack, job_ids)
    lags: list[int] = []
    exactly_once = duplicates = missing = failed = 0
    for runs in found.values():
        per_slot = Counter(slot_ms(run) for run in runs)
        duplicates += sum(1 for n in per_slot.values() if n > 1)
        for slot in wanted:
            ran = [run for run in runs if slot_ms(run) == slot]
            missing += not ran
            exactly_once += len(ran) == 1
            failed += sum(1 for run in ran if run["status"] != "succeeded")
            lags += [int(run["lagMs"]) for run in ran if run.get("lagMs") is not None]
    runs_per_minute = count + 1  # and the demo job's run
    return {
        "jobs": count, "slots": slots, "createSeconds": round(created_s, 1), "expected": count * slots,
        "exactlyOnce": exactly_once, "missing": missing, "duplicates": duplicates, "failed": failed,
        "p50": percentile(lags, 0.5), "p99": percentile(lags, 0.99), "max": max(lags, default=0),
        "cpuSecondsPerMinute": [round(c, 2) for c in cpu_per_minute],
        "cpuMsPerRun": round(statistics.median(cpu_per_minute) * 1000 / runs_per_minute, 1),
    }  # fmt: skip


def every_five_seconds(stack: Stack, count: int, seconds: int) -> dict[str, Any]:
    """`count` jobs on `N/5 * * * * *` (spread over offsets 0-4) for `seconds`: lag of every run."""
    app_id = stack.client.post("/applications", json={"name": "fast", "displayName": "Fast"}).json()["id"]
    job_ids = create_jobs(stack, app_id, [f"{index % 5}/5 * * * * *" for index in range(count)], "fast")
    started = int(time.time() * 1000) + 5_000
    time.sleep(seconds + 5)
    ended = int(time.time() * 1000) - 3_000
    lags = [int(run["lagMs"]) for runs in executions(stack, job_ids).values() for run in runs
            if started <= slot_ms(run) < ended and run.get("lagMs") is not None]  # fmt: skip
    return {"jobs": count, "seconds": seconds, "runs": len(lags), "expected": round(count * (ended - started) / 5000),
            "p50": percentile(lags, 0.5), "p99": percentile(lags, 0.99), "max": max(lags, default=0)}  # fmt: skip


def run_all(quick: bool) -> dict[str, Any]:
    """Idle, then the per-minute jobs, in one stack; the every-5-seconds jobs in a second one (their queued
    slots would otherwise run through the per-minute measurement)."""
    out: dict[str, Any] = {}
    with local_stack() as stack:
        time.sleep(5)  # the start's own work (bootstrap sync, first dispatches) settles
        out["idle"] = idle_cpu(stack, 20 if quick else 60)
        print(f"idle {out['idle']}", file=sys.stderr, flush=True)
        out["minute"] = minute_slots(stack, 60 if quick else 300, 1 if quick else 2)
        print(f"minute {out['minute']}", file=sys.stderr, flush=True)
    with local_stack() as stack:
        out["fast"] = every_five_seconds(stack, 20, 30 if quick else 45)
        print(f"fast {out['fast']}", file=sys.stderr, flush=True)
    return out
