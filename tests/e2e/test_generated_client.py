"""A team integrating the API: a Python client generated from the served OpenAPI document with openapi-python-client
(offline, no warnings) walks the README's walk-through against the real `make run`, and every answer parses into
its model, the error shape included, timestamps as datetimes. The client raises on any status the document does not
declare, and each answer's headers are held to the document too (tests/declared.py)."""

from __future__ import annotations

import contextlib
import datetime
import importlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import httpx
import pytest

from tests import declared
from tests.conftest import ROOT, local_stack

pytestmark = pytest.mark.slow
CONFIG = ROOT / "openapi-python-client.yaml"
PACKAGE = "scheduler_client"


def generate(document: Path, into: Path) -> None:
    """openapi-python-client, as `make client` runs it, failing on any warning."""
    command = [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(document), "--meta", "none",
               "--config", str(CONFIG), "--output-path", str(into / PACKAGE), "--fail-on-warning"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    with local_stack(tmp_path) as running:
        yield running


@pytest.fixture
def generated(stack: dict[str, Any], tmp_path: Path) -> Iterator[SimpleNamespace]:
    """The package generated from the document the running stack serves, imported: `.client`, `.models`, and each
    operation's module by its name (`.scheduler_job_create`)."""
    document = tmp_path / "openapi.json"
    document.write_bytes(httpx.get(f"http://127.0.0.1:{stack['port']}/_/scheduler/openapi.json").content)
    generate(document, tmp_path)
    sys.path.insert(0, str(tmp_path))
    try:
        operations = (tmp_path / PACKAGE / "api" / "scheduler").glob("scheduler_*.py")
        modules: dict[str, ModuleType] = {
            path.stem: importlib.import_module(f"{PACKAGE}.api.scheduler.{path.stem}") for path in operations
        }
        yield SimpleNamespace(
            client=importlib.import_module(f"{PACKAGE}.client"),
            models=importlib.import_module(f"{PACKAGE}.models"),
            errors=importlib.import_module(f"{PACKAGE}.errors"),
            **modules,
        )
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def hold_to_document(response: httpx.Response) -> None:
    declared.check(response.request.method, str(response.request.url), response.status_code, response.headers)


@pytest.fixture
def opened() -> Iterator[contextlib.ExitStack]:
    """Generated clients entered here are closed after the test (each holds an httpx client)."""
    with contextlib.ExitStack() as clients:
        yield clients


def test_a_generated_client_walks_the_readme_and_parses_every_answer(stack, generated, opened):
    g, models = generated, generated.models
    base, target = f"http://127.0.0.1:{stack['port']}", stack["target"]
    token = stack["client"].headers["authorization"].removeprefix("Bearer ")
    options: dict[str, Any] = {"base_url": base, "raise_on_unexpected_status": True,
                               "httpx_args": {"event_hooks": {"response": [hold_to_document]}}}  # fmt: skip
    api = opened.enter_context(g.client.AuthenticatedClient(token=token, **options))
    anonymous = opened.enter_context(g.client.Client(**options))

    def error(response: Any, status: int, code: str) -> Any:
        assert response.status_code == status, response.content
        assert isinstance(response.parsed, models.ErrorResponse), response.parsed
        assert response.parsed.error.code == code, response.content
        return response.parsed.error

    # health and the document, without a token
    assert g.scheduler_health_get.sync(client=anonymous).status == "ok"
    assert g.scheduler_openapi_get.sync(client=anonymous)["openapi"] == "3.1.0"

    # applications: create (admin), list, get; a name taken
    created = g.scheduler_application_create.sync_detailed(
        client=api, body=models.ApplicationCreate(name="reports", display_name="Reports")
    )
    assert created.status_code == 201 and created.headers["location"].endswith(f"/applications/{created.parsed.id}")
    app_id = created.parsed.id
    assert "reports" in [app.name for app in g.scheduler_application_list.sync(client=api)]
    assert g.scheduler_application_get.sync(id=app_id, client=api).display_name == "Reports"
    again = models.ApplicationCreate(name="reports", display_name="Reports again")
    error(g.scheduler_application_create.sync_detailed(client=api, body=again), 409, "CONFLICT")

    # a job every minute, with parameters, a secret header and an Idempotency-Key; its replay; another body
    spec = {"applicationId": app_id, "name": "minute-sync", "pattern": "* * * * *", "timezone": "Europe/Berlin",
            "taskConfig": {"endpoint": target.base, "method": "GET", "path": "/?from=${T-1:YYYY-MM-DD}",
                           "headers": {"X-Api-Key": "secret"}, "timeout": 5000}}  # fmt: skip
    body = models.JobCreate.from_dict(spec)
    first = g.scheduler_job_create.sync_detailed(client=api, body=body, idempotency_key="create-sync-1")
    assert first.status_code == 201, first.content
    job = first.parsed
    assert isinstance(job, models.Job) and isinstance(job.created_at, datetime.datetime)
    assert isinstance(job.next_run_at, datetime.datetime) and job.next_run_at > job.created_at
    assert job.task_config.headers["X-Api-Key"] == "********"
    assert first.headers["etag"] and first.headers["location"].endswith(f"/jobs/{job.id}")
    replay = g.scheduler_job_create.sync_detailed(client=api, body=body, idempotency_key="create-sync-1")
    assert (replay.status_code, replay.parsed.id, replay.headers["idempotent-replayed"]) == (201, job.id, "true")
    other = models.JobCreate.from_dict({**spec, "name": "other-sync"})
    error(g.scheduler_job_create.sync_detailed(client=api, body=other, idempotency_key="create-sync-1"), 422,
          "IDEMPOTENCY_MISMATCH")  # fmt: skip

    # list with filters, page by page
    assert g.scheduler_job_create.sync_detailed(client=api, body=other).status_code == 201
    page = g.scheduler_job_list.sync_detailed(client=api, application_id=app_id, enabled=True, limit=1)
    cursor = page.headers["x-next-cursor"]
    assert [j.name for j in page.parsed] == ["minute-sync"] and 'rel="next"' in page.headers["link"]
    rest = g.scheduler_job_list.sync_detailed(client=api, application_id=app_id, limit=1, cursor=cursor)
    assert [j.name for j in rest.parsed] == ["other-sync"] and "x-next-cursor" not in rest.headers
    assert [j.name for j in g.scheduler_job_list.sync(client=api, name="minute")] == ["minute-sync"]

    # ETag and If-Match: a typed partial update, then a stale one
    etag = g.scheduler_job_get.sync_detailed(id=job.id, client=api).headers["etag"]
    change = models.JobUpdate(description="hourly now", pattern="0 * * * *",
                              task_config=models.TaskConfigUpdate(timeout=10000))  # fmt: skip
    updated = g.scheduler_job_update.sync_detailed(id=job.id, client=api, body=change, if_match=etag)
    assert (updated.parsed.pattern, updated.parsed.task_config.timeout) == ("0 * * * *", 10000)
    assert updated.headers["etag"] != etag
    stale = g.scheduler_job_update.sync_detailed(id=job.id, client=api, body=change, if_match=etag)
    error(stale, 412, "PRECONDITION_FAILED")

    # disable and enable, each answering the job and its ETag
    paused = g.scheduler_job_disable.sync_detailed(id=job.id, client=api)
    assert (paused.parsed.status, paused.parsed.next_run_at, bool(paused.headers["etag"])) == ("paused", None, True)
    resumed = g.scheduler_job_enable.sync_detailed(id=job.id, client=api)
    assert resumed.parsed.status == "scheduled" and isinstance(resumed.parsed.next_run_at, datetime.datetime)
    until = datetime.datetime(2999, 1, 1, tzinfo=datetime.UTC)  # disable's optional body: pause until a time
    pause = models.PauseInput(until=until, reason="maintenance")
    held = g.scheduler_job_disable.sync_detailed(id=job.id, client=api, body=pause)
    assert (held.parsed.paused_until, held.parsed.paused_reason) == (until, "maintenance")
    assert g.scheduler_job_enable.sync_detailed(id=job.id, client=api).parsed.status == "scheduled"

    # a one-off job at a date
    once = g.scheduler_job_schedule.sync_detailed(client=api, body=models.JobScheduleInput.from_dict({
        "applicationId": app_id, "name": "one-off", "runAt": "2099-01-20T10:00:00Z",
        "taskConfig": {"endpoint": target.base, "path": "/once"}}))  # fmt: skip
    assert once.status_code == 201 and once.parsed.run_at == datetime.datetime(2099, 1, 20, 10, tzinfo=datetime.UTC)

    # run it now, to a final state; its history, recent runs and stats
    triggered = g.scheduler_job_trigger.sync_detailed(id=job.id, client=api)
    assert triggered.status_code == 202 and triggered.parsed.status == "pending"
    run_id = triggered.parsed.id
    assert triggered.headers["location"].endswith(f"/executions/{run_id}")
    deadline = time.monotonic() + 20
    while (run := g.scheduler_execution_get.sync(id=run_id, client=api)).status in ("pending", "running"):
        assert time.monotonic() < deadline, "the manual run did not finish within 20 s"
        time.sleep(0.2)
    assert run.status == "succeeded" and run.result["status"] == 200
    assert isinstance(run.started_at, datetime.datetime) and run.finished_at >= run.started_at
    assert isinstance(run.attempts[0].at, datetime.datetime)
    succeeded = models.SchedulerJobExecutionsListStatusType0("succeeded")
    history = g.scheduler_job_executions_list.sync(id=job.id, client=api, status=succeeded, limit=20)
    assert [e.id for e in history] == [run_id]
    recent = g.scheduler_execution_list.sync(client=api, application_id=app_id)
    assert run_id in [e.id for e in recent] and all(isinstance(e.scheduled_for, datetime.datetime) for e in recent)
    stats = g.scheduler_stats_get.sync(client=api)
    assert stats.jobs.total >= 3 and stats.engine.fire_lag_ms.samples >= 0

    # a pattern in words and its next runs, as datetimes in the zone
    preview = g.scheduler_cron_preview.sync(client=api, body=models.CronPreviewRequest(
        pattern="0 2 * * 1-5", timezone="Europe/Berlin", count=3))  # fmt: skip
    assert preview.description == "At 02:00 AM, Monday through Friday"
    assert [(moment.hour, moment.utcoffset() in (datetime.timedelta(hours=1), datetime.timedelta(hours=2)))
            for moment in preview.next_] == [(2, True)] * 3  # fmt: skip

    # a browser session: the cookie; a cookie write without Origin is refused; sign out from this site
    signing_in = opened.enter_context(g.client.Client(**options))  # its cookie jar keeps the session from here on
    session = g.scheduler_session_create.sync_detailed(client=signing_in, body=models.SessionCreate(token=token))
    assert session.parsed.user == "admin" and isinstance(session.parsed.expires_at, datetime.datetime)
    assert session.headers["set-cookie"].startswith("session=")
    browser = opened.enter_context(g.client.Client(cookies={"session": token}, **options))
    assert g.scheduler_session_get.sync(client=browser).admin is True
    refused = error(g.scheduler_job_trigger.sync_detailed(id=job.id, client=browser), 403, "FORBIDDEN")
    assert "Origin" in refused.message
    from_ui = opened.enter_context(
        g.client.Client(cookies={"session": token}, headers={"X-Requested-With": "scheduler-ui"}, **options)
    )
    assert g.scheduler_session_delete.sync_detailed(client=from_ui).status_code == 204

    # one of each client error, each parsed into the error shape
    bad = models.JobCreate.from_dict({**spec, "name": "never", "pattern": "0 0 30 2 *"})
    assert error(g.scheduler_job_create.sync_detailed(client=api, body=bad), 400, "VALIDATION_ERROR").details[0].field \
        == "pattern"  # fmt: skip
    error(g.scheduler_job_list.sync_detailed(client=anonymous), 401, "UNAUTHENTICATED")
    error(g.scheduler_job_get.sync_detailed(id=999_999, client=api), 404, "NOT_FOUND")
    huge = models.JobCreate.from_dict({**spec, "name": "huge", "description": "x" * 300_000})
    error(g.scheduler_job_create.sync_detailed(client=api, body=huge), 413, "PAYLOAD_TOO_LARGE")
    as_text = api.get_httpx_client().post("/_/scheduler/cron/preview", content=b"pattern=* * * * *",
                                          headers={"Content-Type": "text/plain"})  # fmt: skip
    # what the generated operation makes of the answer (its sync functions always send JSON)
    error(g.scheduler_cron_preview._build_response(client=api, response=as_text), 415, "UNSUPPORTED_MEDIA_TYPE")
    for _ in range(25):  # the 11th manual run within a minute (a minute boundary may reset the count once)
        limited = g.scheduler_job_trigger.sync_detailed(id=job.id, client=api)
        if limited.status_code != 202:
            break
    error(limited, 429, "TOO_MANY_REQUESTS")
    assert 1 <= int(limited.headers["retry-after"]) <= 60

    # delete: 204, then its runs stay readable and the job is gone
    assert g.scheduler_job_delete.sync_detailed(id=job.id, client=api).status_code == 204
    assert g.scheduler_execution_get.sync(id=run_id, client=api).id == run_id
    error(g.scheduler_job_delete.sync_detailed(id=job.id, client=api), 404, "NOT_FOUND")

    # and a status the document does not declare would have raised, not passed unnoticed
    with pytest.raises(g.errors.UnexpectedStatus):
        g.scheduler_job_get._build_response(client=api, response=httpx.Response(418))
