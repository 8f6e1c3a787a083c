"""`make run` as a new user meets it: the real process, real HTTP, the minute tick and the invoker."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import ROOT, Target, free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def stack(tmp_path):
    target = Target()
    port, moto_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "JOBS_", "KEYS_", "EXECUTIONS_", "APPLI"))}
    env.update({"PORT": str(port), "MOTO_PORT": str(moto_port), "ALLOWED_TARGET_HOSTS": f"127.0.0.1:{target.port}",
                "JWT_SECRET": "e2e-secret-0123456789abcdef0123456789ab", "PYTHONUNBUFFERED": "1"})  # fmt: skip
    env.pop("GATEWAY_URL", None)
    started = time.monotonic()
    log = tmp_path / "make-run.log"
    with log.open("w") as sink:  # a file, not a pipe: a full pipe would block the stack
        process = subprocess.Popen([sys.executable, "-m", "chalicelib.local"], cwd=ROOT, env=env, stdout=sink,
                                   stderr=subprocess.STDOUT, text=True)  # fmt: skip
    token = None
    while token is None:
        time.sleep(0.1)
        output = log.read_text()
        assert process.poll() is None, "make run exited early:\n" + output
        assert time.monotonic() - started < 60, output
        match = re.search(r"export TOKEN=(\S+)", output)
        token = match.group(1) if match else None
    cold_start = time.monotonic() - started
    base = f"http://127.0.0.1:{port}/_/scheduler"
    client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    yield {"client": client, "target": target, "process": process, "port": port, "moto_port": moto_port,
           "cold_start": cold_start}  # fmt: skip
    if process.poll() is None:
        process.kill()
        process.wait()
    client.close()
    target.close()


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
