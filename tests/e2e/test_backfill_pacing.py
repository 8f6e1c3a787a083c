"""A backfill through `make run` as a user starts one: the real process, a real target, and how closely its runs
keep the pace asked for (printed as the figure for the closing note), with each run's dates those of its slot."""

from __future__ import annotations

import statistics
import time
from itertools import pairwise
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import local_stack

pytestmark = pytest.mark.slow
DAYS = 12
PER_MINUTE = 60  # one a second


def test_a_backfill_keeps_its_pace_and_sends_each_slot_s_dates(tmp_path):
    with local_stack(tmp_path) as stack:
        client, target = stack["client"], stack["target"]
        app_id = client.get("/applications").json()[0]["id"]
        job = client.post("/jobs", json={"applicationId": app_id, "name": "daily-sync", "pattern": "0 6 * * *",
                                         "taskConfig": {"endpoint": target.base, "path": "/sync?day=${T:YYYY-MM-DD}"},
                                         "retryPolicy": {"maxAttempts": 1}}).json()  # fmt: skip
        answer = client.post(f"/jobs/{job['id']}/backfill", json={"from": "2026-03-01T00:00:00Z",
                                                                  "to": f"2026-03-{DAYS + 1:02d}T00:00:00Z",
                                                                  "perMinute": PER_MINUTE})  # fmt: skip
        assert answer.status_code == 202, answer.text
        backfill = answer.json()
        deadline = time.monotonic() + DAYS * 60 / PER_MINUTE + 20
        while (progress := client.get(f"/backfills/{backfill['id']}").json())["succeeded"] < DAYS:
            assert time.monotonic() < deadline, progress
            time.sleep(0.5)
        assert progress["status"] == "done" and progress["failed"] == progress["skipped"] == 0
        calls = sorted((r["at"], parse_qs(urlsplit(r["path"]).query)["day"][0]) for r in target.requests
                       if r["path"].startswith("/sync"))  # fmt: skip
        assert [day for _, day in calls] == [f"2026-03-{d:02d}" for d in range(1, DAYS + 1)]
        gaps = [later - earlier for (earlier, _), (later, _) in pairwise(calls)]
        pace = 60 / PER_MINUTE
        errors = [abs(gap - pace) for gap in gaps]
        print(f"backfill pacing: {DAYS} runs at {PER_MINUTE}/min, gaps mean {statistics.mean(gaps):.3f} s "
              f"(asked {pace:.3f} s), mean error {statistics.mean(errors) * 1000:.0f} ms, "
              f"max error {max(errors) * 1000:.0f} ms, whole span {calls[-1][0] - calls[0][0]:.2f} s")  # fmt: skip
        assert abs(statistics.mean(gaps) - pace) < 0.25 and max(errors) < 1.5
