"""`make run` keeps its data, through the real process: a clean stop and start keeps jobs, history, ETags and next
runs; SIGKILL at random points never runs a slot twice and the slots missed while down follow misfirePolicy; the
stack dies with its parent, frees its ports, and a second stack names the process in its way."""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT, Target, free_port, local_stack, process_gone

pytestmark = pytest.mark.slow

SLOT_FORMAT = "YYYY-MM-DDTHH:mm:ss"  # a run's slot, in the path of the request it makes (resolved at its slot)


def slot_path(name: str) -> str:
    return f"/s/{name}/${{T:{SLOT_FORMAT}}}"


def calls(target: Target) -> Counter[tuple[str, int]]:
    """How many requests the target got for each (job name, slot in epoch ms)."""
    found: Counter[tuple[str, int]] = Counter()
    for request in list(target.requests):
        match = re.fullmatch(r"/s/([\w-]+)/(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)", request["path"].split("?")[0])
        if match:
            moment = datetime.fromisoformat(match.group(2)).replace(tzinfo=UTC)
            found[(match.group(1), int(moment.timestamp() * 1000))] += 1
    return found


def slot_ms(execution: dict[str, Any]) -> int:
    return int(datetime.fromisoformat(execution["scheduledFor"].replace("Z", "+00:00")).timestamp() * 1000)


def history(client: httpx.Client, job_id: int) -> list[dict[str, Any]]:
    answer = client.get(f"/jobs/{job_id}/executions", params={"limit": 200})
    answer.raise_for_status()
    runs: list[dict[str, Any]] = answer.json()
    return runs


def make_job(client: httpx.Client, app_id: int, name: str, target: Target, **fields: Any) -> dict[str, Any]:
    body = {"applicationId": app_id, "name": name, "taskConfig": {"endpoint": target.base, "path": slot_path(name)},
            **fields}  # fmt: skip
    answer = client.post("/jobs", json=body)
    assert answer.status_code == 201, answer.text
    job: dict[str, Any] = answer.json()
    return job


def wait_for_exit(pid: int, seconds: float) -> float:
    """Seconds until `pid` exited; fails after `seconds`."""
    started = time.monotonic()
    while not process_gone(pid):
        assert time.monotonic() - started < seconds, f"pid {pid} still runs after {seconds} s"
        time.sleep(0.05)
    return time.monotonic() - started


def assert_ports_free(*ports: int) -> None:
    for port in ports:
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)


def refused_start(env: dict[str, str], port: int, moto_port: int, data_dir: Path) -> str:
    """What a second `make run` says when it cannot start (it must exit with an error)."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, **env, "PORT": str(port),
           "MOTO_PORT": str(moto_port), "DATA_DIR": str(data_dir)}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "chalicelib.local"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode != 0, done.stdout
    return done.stderr


@contextlib.contextmanager
def a_target() -> Iterator[Target]:
    target = Target()
    try:
        yield target
    finally:
        target.close()


def test_a_clean_stop_and_start_keeps_jobs_history_etags_and_next_runs_and_the_stack_dies_with_make(tmp_path):
    data, ports = tmp_path / "kept", (free_port(), free_port())
    with a_target() as target:
        with local_stack(tmp_path, data_dir=data, ports=ports, target=target, make=True) as stack:
            assert f"State        starting empty, kept in {data}/" in stack["output"]
            client = stack["client"]
            app_id = client.post("/applications", json={"name": "kept", "displayName": "Kept"}).json()["id"]
            nightly = make_job(client, app_id, "nightly", target, pattern="0 2 * * *", timezone="Europe/Berlin")
            make_job(client, app_id, "once", target, runAt="2031-05-01T10:00:00Z")
            paused = make_job(client, app_id, "paused", target, pattern="*/5 * * * *")
            assert client.post(f"/jobs/{paused['id']}/disable").status_code == 200
            every = make_job(client, app_id, "every-second", target, pattern="* * * * * *")
            manual = client.post(f"/jobs/{nightly['id']}/trigger").json()
            deadline = time.monotonic() + 10
            while client.get(f"/executions/{manual['id']}").json()["status"] != "succeeded":
                assert time.monotonic() < deadline, "the manual run did not succeed within 10 s"
                time.sleep(0.2)
            time.sleep(2)  # the every-second job runs a few slots
            jobs_before = client.get("/jobs", params={"applicationId": app_id}).json()
            answers = {job["id"]: client.get(f"/jobs/{job['id']}") for job in jobs_before}
            runs_before = {job["id"]: history(client, job["id"]) for job in jobs_before}
            os.kill(stack["stack_pid"], signal.SIGTERM)
            assert wait_for_exit(stack["stack_pid"], 5) < 5
            assert stack["process"].wait(5) == 0  # make saw its recipe succeed
            assert_ports_free(*ports)
            assert (data / "stack.lock").read_text().startswith("stopped")

        with local_stack(tmp_path, data_dir=data, ports=ports, target=target, make=True) as stack:
            client = stack["client"]
            assert re.search(rf"State        restored 6 jobs, \d+ executions from {data}/\n", stack["output"])
            assert "after a crash" not in stack["output"]
            jobs_after = client.get("/jobs", params={"applicationId": app_id}).json()
            assert [job["id"] for job in jobs_after] == [job["id"] for job in jobs_before]
            for job in jobs_after:
                answer = client.get(f"/jobs/{job['id']}")
                assert answer.headers["etag"] == answers[job["id"]].headers["etag"]
                if job["id"] != every["id"]:  # its next run is the next second: it moves on
                    assert answer.json() == answers[job["id"]].json()  # next runs and upcoming slots included
                final = [run for run in runs_before[job["id"]] if run["status"] in ("succeeded", "failed")]
                assert [run for run in history(client, job["id"]) if run["id"] in {r["id"] for r in final}] == final
            time.sleep(2)  # the every-second job goes on: each slot called once, across the stop
            assert set(calls(target).values()) == {1}
            ran = {slot_ms(run) for run in history(client, every["id"])}
            assert {slot for (name, slot) in calls(target) if name == "every-second"} <= ran

            # a second stack on the same ports, or on the same data folder, names the process in its way
            env = {"JWT_SECRET": "e2e-secret-0123456789abcdef0123456789ab"}
            message = refused_start(env, ports[0], ports[1], tmp_path / "other")
            assert f"MOTO_PORT {ports[1]} is in use by pid {stack['stack_pid']} (" in message, message
            message = refused_start(env, free_port(), free_port(), data)
            assert f"DATA_DIR {data} is in use by pid {stack['stack_pid']}" in message, message
            # a snapshot of another format version is refused, and left as it is
            newer = tmp_path / "newer"
            newer.mkdir()
            lines = (data / "snapshot.jsonl").read_bytes().split(b"\n", 1)
            (newer / "snapshot.jsonl").write_bytes(lines[0].replace(b'"version":1', b'"version":2') + b"\n" + lines[1])
            kept = (newer / "snapshot.jsonl").read_bytes()
            message = refused_start(env, free_port(), free_port(), newer)
            assert "format version 2" in message and "RESET=1" in message, message
            assert (newer / "snapshot.jsonl").read_bytes() == kept
            assert sorted(path.name for path in newer.iterdir()) == ["snapshot.jsonl", "stack.lock"]

            # against another endpoint (this stack's embedded AWS), that endpoint keeps the state; SIGHUP stops it
            endpoint = f"http://127.0.0.1:{ports[1]}"
            unused = tmp_path / "unused"
            with local_stack(tmp_path, data_dir=unused, target=target, env={"AWS_ENDPOINT_URL": endpoint}) as other:
                banner = other["output"]
                assert f"State        kept by {endpoint} (AWS_ENDPOINT_URL); make run keeps no snapshot" in banner
                os.kill(other["stack_pid"], signal.SIGHUP)
                assert other["process"].wait(5) == 0
            assert not unused.exists()

            # `make` killed with SIGKILL: the stack notices, stops cleanly within 5 s, and frees its ports
            stack["process"].kill()
            stack["process"].wait()
            assert wait_for_exit(stack["stack_pid"], 5) < 5
            assert_ports_free(*ports)
            assert (data / "stack.lock").read_text().startswith("stopped")


def kill(stack: dict[str, Any]) -> None:
    os.kill(stack["stack_pid"], signal.SIGKILL)
    stack["process"].wait()


def settled(client: httpx.Client, app_id: int,
            at_least: dict[str, int] | None = None) -> dict[str, list[dict[str, Any]]]:  # fmt: skip
    """Every job's runs, oldest slot first, once none is pending or running and the jobs named in `at_least` have
    that many records (at most 45 s: a stack started on a loaded machine may not have run them yet)."""
    names = {job["id"]: job["name"] for job in client.get("/jobs", params={"applicationId": app_id}).json()}
    deadline = time.monotonic() + 45
    while True:
        runs = {name: sorted(history(client, job_id), key=slot_ms) for job_id, name in names.items()}
        recorded = all(len(runs.get(name, [])) >= count for name, count in (at_least or {}).items())
        if recorded and all(run["status"] in ("succeeded", "failed") for found in runs.values() for run in found):
            return runs
        assert time.monotonic() < deadline, "runs still in flight 45 s after the last start"
        time.sleep(0.5)


def every_slot(job: dict[str, Any], until: int) -> set[int]:
    """The slots of an every-second job from its creation (and a second's margin) until `until` (epoch ms)."""
    created = int(datetime.fromisoformat(job["createdAt"].replace("Z", "+00:00")).timestamp()) * 1000
    return set(range(created + 2_000, until, 1000))


def wait_until_recorded(client: httpx.Client, jobs: list[dict[str, Any]], until: int) -> None:
    """Every slot of these every-second jobs before `until` gets its record (its run, or LOST) within 45 s: none is
    lost, nor skipped (none falls more than the misfire grace behind)."""
    deadline = time.monotonic() + 45
    while True:
        missing = {job["name"]: sorted(every_slot(job, until) - {slot_ms(run) for run in history(client, job["id"])})
                   for job in jobs}  # fmt: skip
        if not any(missing.values()):
            return
        assert time.monotonic() < deadline, f"slots without a record 45 s after the start: {missing}"
        time.sleep(0.5)


def test_sigkill_at_random_points_never_runs_a_slot_twice_and_missed_slots_follow_misfire_policy(tmp_path):
    """Two stacks. `minutes`: once-a-minute jobs (on second S), killed before their slot M and started again more
    than the misfire grace after it: fire_once runs M once, late; skip never runs it; both run M + 60 s. Meanwhile
    `seconds`: every-second jobs (with and without retries) through SIGKILLs at random points, each followed by a
    start at once: every call the target got is its slot's only call and has its execution, every slot has one
    execution, and a run a kill interrupted ended LOST and was never retried."""
    seed = int(time.time())
    print(f"random seed {seed}")
    rng = random.Random(seed)
    kills = 0
    with a_target() as target:

        def start(name: str, ports: tuple[int, int]) -> Any:
            # two minutes of slots a dispatch: an every-second job's creation sends 120 messages, not 900
            return local_stack(tmp_path, data_dir=tmp_path / name, ports=ports, target=target,
                               env={"DISPATCH_WINDOW_SECONDS": "120"})  # fmt: skip

        minute_ports, second_ports = (free_port(), free_port()), (free_port(), free_port())
        with contextlib.ExitStack() as first_minutes:
            stack = first_minutes.enter_context(start("minutes", minute_ports))
            client = stack["client"]
            minutes_app = client.post("/applications", json={"name": "minutes", "displayName": "M"}).json()["id"]
            minute = int(time.time() + 24) * 1000  # the slot M, 24 s from now
            pattern = f"{minute // 1000 % 60} * * * * *"
            make_job(client, minutes_app, "minute-once", target, pattern=pattern, misfirePolicy="fire_once")
            make_job(client, minutes_app, "minute-skip", target, pattern=pattern, misfirePolicy="skip")
            # killed before M's messages are received (5 s ahead of it), whatever the other stack is doing then
            killer = threading.Timer(max(0.0, (minute - 8_000) / 1000 - time.time()), kill, [stack])
            killer.start()
            first_minutes.callback(killer.cancel)

            with start("seconds", second_ports) as seconds_stack:
                client = seconds_stack["client"]
                seconds_app = client.post("/applications", json={"name": "secs", "displayName": "S"}).json()["id"]
                seconds = [make_job(client, seconds_app, f"second-{n}", target, pattern="* * * * * *",
                                    retryPolicy={"maxAttempts": 1 + 2 * (n % 2)}) for n in range(4)]  # fmt: skip
                time.sleep(rng.uniform(1.0, 3.0))
                kill(seconds_stack)
                kills += 1
            while time.time() * 1000 < minute + 40_000:  # a start (~6 s) and a life, before the other stack's start
                with start("seconds", second_ports) as seconds_stack:
                    # it catches up with the slots that fell while it was down (else, killed again and again, it
                    # would fall more than the misfire grace behind, and skip them), then dies at a random point
                    wait_until_recorded(seconds_stack["client"], seconds, int(time.time() * 1000))
                    time.sleep(rng.uniform(0.5, 3.0))
                    kill(seconds_stack)
                    kills += 1
            killer.join()
            assert process_gone(stack["stack_pid"])
        with start("seconds", second_ports) as seconds_stack:
            client = seconds_stack["client"]
            recorded_until = int(time.time() * 1000)  # the slots before now, down or up, all get a record
            wait_until_recorded(client, seconds, recorded_until)
            for job in seconds:
                assert client.post(f"/jobs/{job['id']}/disable").status_code == 200
            time.sleep(max(0.0, (minute + 58_000) / 1000 - time.time()))
            with start("minutes", minute_ports) as stack:  # ready more than the misfire grace (60 s) after M
                assert "after a crash" in stack["output"]
                time.sleep(max(0.0, (minute + 63_000) / 1000 - time.time()))
                runs = settled(stack["client"], minutes_app, {"minute-once": 2, "minute-skip": 1})
            runs.update(settled(client, seconds_app))

    called = calls(target)
    assert kills >= 3, kills  # the first life, and at least two more during the other stack's outage
    assert called and max(called.values()) == 1, [key for key, count in called.items() if count > 1]
    for name, found in runs.items():
        slots = [slot_ms(run) for run in found]
        assert len(slots) == len(set(slots)), name  # one record per slot
        for run in found:  # a run a kill interrupted ended LOST on its first attempt: never retried, never called again
            if run["status"] == "failed":
                assert run["error"]["code"] == "LOST" and run["attempt"] == 1, run
        assert {slot for (called_name, slot) in called if called_name == name} <= set(slots), name
    lost = sum(run["status"] == "failed" for found in runs.values() for run in found)
    assert lost >= 1, "no kill interrupted a run in flight"
    print(f"{kills} kills; {len(called)} slots called once each; {lost} runs a kill interrupted ended LOST")
    for job in seconds:  # every slot through every kill: one record (its call, or LOST)
        assert every_slot(job, recorded_until) <= {slot_ms(run) for run in runs[job["name"]]}
    later = minute + 60_000
    once, skip = runs["minute-once"], runs["minute-skip"]
    assert [(slot_ms(run), run["status"]) for run in once] == [(minute, "succeeded"), (later, "succeeded")], once
    assert once[0]["lagMs"] > 60_000 > once[1]["lagMs"]  # M ran once, at the start after the outage; M + 60 s on time
    assert [(slot_ms(run), run["status"]) for run in skip] == [(later, "succeeded")], skip
    assert called[("minute-once", minute)] == 1 and ("minute-skip", minute) not in called
