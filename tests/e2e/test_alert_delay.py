"""Alerts through `make run` as a user meets them: the real process, a real webhook receiver, and the time from a
run's end to its alert's arrival (the issue asks for 10 s at most; printed as the figure for the README)."""

from __future__ import annotations

import json
import statistics
import time
from datetime import datetime

import pytest
from standardwebhooks import Webhook

from tests.conftest import local_stack

pytestmark = pytest.mark.slow
JOBS = 5


def test_alerts_leave_within_ten_seconds_of_the_run_that_caused_them(tmp_path):
    with local_stack(tmp_path) as stack:
        client, target = stack["client"], stack["target"]
        created = client.post("/applications", json={"name": "alerting", "displayName": "Alerting"}).json()
        app_id, secret = created["id"], created["signingKey"]["secret"]
        channel = {"name": "receiver", "type": "webhook", "url": f"{target.base}/alert-receiver"}
        assert client.post(f"/applications/{app_id}/channels", json=channel).status_code == 201
        jobs = [client.post("/jobs", json={"applicationId": app_id, "name": f"flaky-{i}", "pattern": "0 3 * * *",
                                           "taskConfig": {"endpoint": target.base, "path": "/status/500"},
                                           "retryPolicy": {"maxAttempts": 1}, "alerts": {"afterFailures": 1}}).json()
                for i in range(JOBS)]  # fmt: skip
        finished: dict[tuple[int, str], float] = {}  # (job, alert) -> when the run that caused it ended (epoch s)
        for kind, path in (("failing", "/status/500"), ("recovered", "/ok")):
            for job in jobs:
                client.put(f"/jobs/{job['id']}", json={"taskConfig": {"path": path}})
                run = client.post(f"/jobs/{job['id']}/trigger").json()
                deadline = time.monotonic() + 15
                while (shown := client.get(f"/executions/{run['id']}").json())["finishedAt"] is None:
                    assert time.monotonic() < deadline, "the run did not end"
                    time.sleep(0.05)
                finished[(job["id"], kind)] = datetime.fromisoformat(shown["finishedAt"]).timestamp()
        deadline = time.monotonic() + 15
        while len([r for r in target.requests if r["path"] == "/alert-receiver"]) < 2 * JOBS:
            assert time.monotonic() < deadline, "not every alert arrived"
            time.sleep(0.1)
        delays = []
        for request in (r for r in target.requests if r["path"] == "/alert-receiver"):
            headers = {name.lower(): value for name, value in request["headers"].items()}
            alert = Webhook(secret).verify(request["body"], headers)
            delays.append(request["at"] - finished[(alert["job"]["id"], alert["type"])])
        kinds = sorted(json.loads(r["body"])["type"] for r in target.requests if r["path"] == "/alert-receiver")
        assert kinds == ["failing"] * JOBS + ["recovered"] * JOBS
        print(f"\nalert delay after the run's end through make run ({len(delays)} alerts): "
              f"p50 {statistics.median(delays) * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms")  # fmt: skip
        assert max(delays) < 10
