"""Benchmark 4: fire lag through the real local stack (`python -m chalicelib.local`, what `make run` runs):
jobs on 6-field patterns spread over the seconds of each minute, lag read back from the executions API."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import jwt

from bench.local import Target, free_port
from chalicelib.auth import ADMIN_ROLE

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-0123456789abcdef0123456789"  # noqa: S105 - a throwaway local stack's secret


def percentile(values: list[int], fraction: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def fire_lag(jobs: int = 20, seconds: int = 150) -> dict[str, Any]:
    """`jobs` jobs firing every 5 s (4 per offset 0-4), i.e. jobs * 12 slots a minute, for `seconds`."""
    target = Target()
    port, moto_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "JOBS_", "KEYS_", "EXECUTIONS_", "APPLI",
                                                                   "INVOKER_", "EVENT_"))}  # fmt: skip
    env.update({"PORT": str(port), "MOTO_PORT": str(moto_port), "ALLOWED_TARGET_HOSTS": target.base.split("//")[1],
                "PYTHONUNBUFFERED": "1", "JWT_SECRET": SECRET})  # fmt: skip
    env.pop("GATEWAY_URL", None)
    log = Path(tempfile.mkstemp(suffix=".log")[1])
    with log.open("w") as sink:
        process = subprocess.Popen([sys.executable, "-m", "chalicelib.local"], cwd=ROOT, env=env, stdout=sink,
                                   stderr=subprocess.STDOUT)  # fmt: skip
    try:
        while "The demo job" not in log.read_text():
            time.sleep(0.2)
            if process.poll() is not None:
                raise RuntimeError(log.read_text())
        token = jwt.encode({"sub": "bench", "roles": [ADMIN_ROLE], "exp": int(time.time()) + 3600}, SECRET)
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}/_/scheduler",
                              headers={"Authorization": f"Bearer {token}"}, timeout=30)  # fmt: skip
        app_id = client.post("/applications", json={"name": "lag", "displayName": "Fire lag"}).json()["id"]
        ids = []
        for index in range(jobs):
            body = {"applicationId": app_id, "name": f"lag-{index}", "pattern": f"{index % 5}/5 * * * * *",
                    "taskType": "HttpInvokerTask", "retryPolicy": {"maxAttempts": 1},
                    "taskConfig": {"endpoint": target.base, "path": f"/lag/{index}"}}  # fmt: skip
            response = client.post("/jobs", json=body)
            response.raise_for_status()
            ids.append(response.json()["id"])
        started = time.time() * 1000
        time.sleep(seconds)
        for job_id in ids:
            client.post(f"/jobs/{job_id}/disable")
        time.sleep(3)
        lags, counted, late = [], 0, []
        for job_id in ids:
            runs = client.get(f"/jobs/{job_id}/executions", params={"limit": 100}).json()
            for run in runs:
                counted += 1
                if run["status"] == "succeeded" and run.get("lagMs") is not None:
                    lags.append(int(run["lagMs"]))
                    if run["lagMs"] >= 1000:
                        late.append(f"{run['scheduledFor'][14:19]}+{run['lagMs']}")
        ended = time.time() * 1000
        slots = jobs * 12 * (ended - started) / 60_000
        return {"slots": len(lags), "records": counted, "expectedSlots": round(slots),
                "p50": percentile(lags, 0.5), "p99": percentile(lags, 0.99), "max": max(lags),
                "jobs": jobs, "seconds": seconds, "late": sorted(late)}  # fmt: skip
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        target.close()
        log.unlink(missing_ok=True)
