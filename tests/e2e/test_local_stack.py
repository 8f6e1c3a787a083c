"""`make run` as a new user meets it: the real process, real HTTP, the minute tick and the invoker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import ROOT, local_stack

pytestmark = pytest.mark.slow


@pytest.fixture
def stack(tmp_path):
    with local_stack(tmp_path) as running:
        yield running


def test_make_run_serves_runs_and_stops_cleanly(stack):
    client, target, process = stack["client"], stack["target"], stack["process"]
    assert httpx.get(f"http://127.0.0.1:{stack['port']}/_/scheduler/health").json() == {"status": "ok"}
    demo = client.get("/applications").json()
    assert [app["name"] for app in demo] == ["demo"]
    assert {job["name"] for job in client.get("/jobs").json()} >= {"self-health-check"}

    # bad input over real HTTP gets the one error shape, never a 500
    base = f"http://127.0.0.1:{stack['port']}/_/scheduler"
    shapes = [
        (httpx.get(f"{base}/jobs"), 401, "UNAUTHENTICATED"),
        (client.post("/jobs", content=b"{", headers={"Content-Type": "application/json"}), 400, "INVALID_JSON"),
        (client.post("/jobs", content=b"x", headers={"Content-Type": "text/plain"}), 415, "UNSUPPORTED_MEDIA_TYPE"),
        (client.get("/jobs/999999"), 404, "NOT_FOUND"),
        (client.post("/jobs", json={"name": "x" * 300_000}), 413, "PAYLOAD_TOO_LARGE"),
    ]
    for answer, status, code in shapes:
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), answer.text

    created = time.time()
    job = client.post("/jobs", json={"applicationId": demo[0]["id"], "name": "every-minute", "pattern": "* * * * *",
                                     "taskConfig": {"endpoint": target.base, "path": "/tick"}}).json()  # fmt: skip
    execution = client.post(f"/jobs/{job['id']}/trigger").json()
    deadline = time.monotonic() + 10
    while client.get(f"/executions/{execution['id']}").json()["status"] in ("pending", "running"):
        assert time.monotonic() < deadline, "a manual trigger did not complete within 10 s"
        time.sleep(0.2)
    assert client.get(f"/executions/{execution['id']}").json()["status"] == "succeeded"

    # the next minute boundary: one scheduled run per boundary, on the second
    next_minute = (int(time.time()) // 60 + 1) * 60
    time.sleep(max(0, next_minute - time.time()) + 3)
    boundaries = int(time.time()) // 60 - int(created) // 60  # 2 when the job was created just before a boundary
    history = client.get(f"/jobs/{job['id']}/executions").json()
    scheduled = [e for e in history if e["trigger"] == "schedule" and e["status"] == "succeeded"]
    assert len(scheduled) == boundaries, history
    assert all(run["lagMs"] < 1000 for run in scheduled), scheduled
    stats = client.get("/stats").json()
    assert stats["engine"]["lastTickAt"] and stats["executions"]["last24h"]["succeeded"] >= 2
    assert [r["path"] for r in target.requests].count("/tick") == boundaries + 1  # and the manual run

    # the bootstrap CLI against the same embedded AWS: the demo is already in sync
    cli_env = {**os.environ, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{stack['moto_port']}",
               "GATEWAY_URL": f"http://127.0.0.1:{stack['port']}"}  # fmt: skip
    for name in [n for n in cli_env if n.endswith("_TABLE")]:
        cli_env.pop(name)
    cli = subprocess.run(
        [sys.executable, "-m", "chalicelib.bootstrap", "bootstrap", "--stage", "dev", "--json"],
        cwd=ROOT, env=cli_env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    plan = json.loads(cli.stdout)
    actions = {step["job"]: step["action"] for step in plan["plan"]}
    assert actions == {"self-health-check": "unchanged", "nightly-report-window": "unchanged", "every-minute": "leave"}
    assert plan["writes"] == 0

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    for port in (stack["port"], stack["moto_port"]):
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
    print(f"\nmake run cold start (process start to token): {stack['cold_start']:.1f} s")
