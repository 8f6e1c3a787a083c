"""Bootstrap sync: every row of the lifecycle table, whole-file validation, idempotence, dry run, races."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from chalicelib.bootstrap import sync
from chalicelib.bootstrap.__main__ import main
from chalicelib.services import jobs as job_service
from chalicelib.store import jobs as job_store

SCOPE = "bootstrap:crm"


def job(name: str, **overrides) -> dict:
    return {
        "name": name,
        "description": f"{name} job",
        "enabled": True,
        "pattern": "*/5 * * * *",
        "taskType": "HttpInvokerTask",
        "taskConfig": {"url": "https://crm.example.com/health", "method": "GET", "timeout": 5000},
        **overrides,
    }


@pytest.fixture
def root(tmp_path: Path):
    folder = tmp_path / "crm"
    folder.mkdir()
    (folder / "application.json").write_text(json.dumps({"name": "crm", "displayName": "CRM"}))

    def write(*jobs: dict) -> Path:
        (folder / "jobs.json").write_text(json.dumps(list(jobs)))
        return tmp_path

    return write


def actions(report) -> dict[str, str]:
    return {step.job: step.action for step in report.steps if step.job}


def stored(api, name: str) -> dict | None:
    found = [j for j in api.get("/_/scheduler/jobs?limit=200").json if j["name"] == name]
    return found[0] if found else None


def test_missing_application_and_jobs_are_created_owned_by_bootstrap(api, root):
    report = sync.run(root(job("health"), job("sync", pattern="0 2 * * *")))
    assert report.errors == [] and report.writes == 3
    assert [s.action for s in report.steps] == ["create-application", "create", "create"]
    created = stored(api, "health")
    assert created["createdBy"] == created["updatedBy"] == SCOPE
    assert created["application"]["name"] == "crm" and created["taskConfig"]["url"] == "https://crm.example.com/health"


def test_second_run_is_all_unchanged_with_zero_writes(api, root):
    folder = root(job("health"), job("sync"))
    sync.run(folder)
    before = stored(api, "health")["updatedAt"]
    again = sync.run(folder)
    assert actions(again) == {"health": "unchanged", "sync": "unchanged"} and again.writes == 0
    assert stored(api, "health")["updatedAt"] == before


def test_bootstrap_owned_job_is_updated_to_the_file(api, root):
    sync.run(root(job("health", taskConfig={"url": "https://crm.example.com/a", "headers": {"X": "1"}})))
    report = sync.run(root(job("health", pattern="0 * * * *", taskConfig={"url": "https://crm.example.com/b"})))
    assert actions(report) == {"health": "update"}
    updated = stored(api, "health")
    assert updated["pattern"] == "0 * * * *" and updated["taskConfig"]["url"] == "https://crm.example.com/b"
    assert "headers" not in updated["taskConfig"]  # the file replaces, it does not merge


def test_manually_modified_job_is_skipped_with_a_warning(api, member, root, caplog):
    sync.run(root(job("health")))
    api.put(f"/_/scheduler/jobs/{stored(api, 'health')['id']}", {"description": "tuned by hand"})
    with caplog.at_level(logging.WARNING):
        report = sync.run(root(job("health", description="from file")))
    assert actions(report) == {"health": "skip-modified"}
    assert stored(api, "health")["description"] == "tuned by hand"
    assert any("health" in r.message and "manually modified" in r.message for r in caplog.records)
    assert report.warnings and "manually modified" in report.warnings[0]


def test_job_created_by_another_source_is_skipped_silently(api, root, caplog):
    sync.run(root())
    app_id = api.get("/_/scheduler/applications").json[0]["id"]
    api.make_job(app_id, name="health", description="mine")
    with caplog.at_level(logging.DEBUG, logger="chalicelib.bootstrap.sync"):
        report = sync.run(root(job("health")))
    assert actions(report) == {"health": "skip-foreign"} and report.warnings == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any(r.levelno == logging.DEBUG and "health" in r.getMessage() for r in caplog.records)
    assert stored(api, "health")["description"] == "mine"


def test_owned_job_missing_from_the_file_is_deleted_and_others_are_left(api, root):
    sync.run(root(job("health"), job("old")))
    app_id = api.get("/_/scheduler/applications").json[0]["id"]
    api.make_job(app_id, name="handmade")
    report = sync.run(root(job("health")))
    assert actions(report) == {"health": "unchanged", "old": "delete", "handmade": "leave"}
    assert stored(api, "old") is None and stored(api, "handmade") is not None


def test_one_bad_job_means_nothing_is_written_and_every_problem_is_reported(api, root):
    folder = root(
        job("good"),
        job("bad-cron", pattern="0 0 30 2 *"),
        job("private", taskConfig={"url": "http://169.254.169.254/latest"}),
        job("good"),
        job("zone", timezone="Nowhere/Land"),
        {"name": "extra", "pattern": "* * * * *", "taskConfig": {"url": "https://a.example.com"}, "colour": "red"},
    )
    report = sync.run(folder)
    assert report.writes == 0 and report.steps == []
    assert api.get("/_/scheduler/applications").json == []
    text = "\n".join(report.errors)
    assert "jobs.json[1] (bad-cron) pattern" in text
    assert "jobs.json[2] (private) taskConfig.url" in text
    assert "jobs.json[3] (good) name: duplicates job [0]" in text
    assert "jobs.json[4] (zone) timezone" in text
    assert "jobs.json[5] (extra) colour: unknown field" in text


def test_dry_run_writes_nothing(api, root):
    report = sync.run(root(job("health")), dry_run=True)
    assert [s.action for s in report.steps] == ["create-application", "create"] and report.writes == 0
    assert api.get("/_/scheduler/applications").json == []


def test_a_concurrent_api_edit_during_the_sync_is_not_overwritten(api, root, monkeypatch):
    sync.run(root(job("health")))
    job_id = stored(api, "health")["id"]
    real = job_service.spec_matches

    def edited_meanwhile(stored_job, spec):
        answer = real(stored_job, spec)
        assert api.put(f"/_/scheduler/jobs/{job_id}", {"description": "edited in the API"}).status == 200
        return answer

    monkeypatch.setattr(job_service, "spec_matches", edited_meanwhile)
    report = sync.run(root(job("health", description="from file")))
    assert actions(report) == {"health": "skip-changed"}
    assert job_store.get(job_id).spec.description == "edited in the API"
    assert "changed during the sync" in report.warnings[0]


def test_events_are_emitted_with_the_scope_as_author(api, root, bus_queue):
    sync.run(root(job("health")))
    received = bus_queue()
    assert [event["detail-type"] for event in received] == ["scheduler.job.created"]
    assert received[0]["detail"]["job"]["createdBy"] == SCOPE


def test_gateway_url_placeholder_is_filled_from_settings(api, root):
    sync.run(root(job("self", taskConfig={"url": "{{GATEWAY_URL}}/_/scheduler/health"})))
    assert stored(api, "self")["taskConfig"]["url"] == "http://127.0.0.1:8000/_/scheduler/health"


def test_cli_prints_the_plan_as_a_table_and_as_json(api, root, capsys):
    folder = root(job("health"))
    assert main([str(folder), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "crm          health  create" in out and "dry run: nothing written" in out
    assert main([str(folder), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["plan"][1] == {
        "application": "crm", "job": "health", "action": "create", "detail": ""}  # fmt: skip
    assert main([str(folder), "--app", "crm"]) == 0
    assert "unchanged" in capsys.readouterr().out


def test_cli_exits_non_zero_on_invalid_files(api, root, capsys):
    assert main([str(root(job("x", pattern="nope")))]) == 1
    assert "pattern" in capsys.readouterr().err


def test_jobs_json_carries_success_criteria_and_the_signing_opt_out(api, root):
    criteria = {"status": ["2xx", 304], "bodyContains": "ok", "json": {"pointer": "/status", "equals": "up"}}
    task = {"url": "https://crm.example.com/health", "sign": False, "expect": criteria}
    assert sync.run(root(job("health", taskConfig=task))).errors == []
    created = stored(api, "health")
    assert created["taskConfig"]["expect"] == criteria and created["taskConfig"]["sign"] is False
    again = sync.run(root(job("health", taskConfig=task)))
    assert actions(again) == {"health": "unchanged"} and again.writes == 0
    changed = sync.run(root(job("health", taskConfig={**task, "expect": {"status": [200]}})))
    assert actions(changed) == {"health": "update"}
    assert stored(api, "health")["taskConfig"]["expect"] == {"status": [200]}
    refused = sync.run(root(job("health", taskConfig={**task, "expect": {"bodyContains": "x" * 300}})))
    assert refused.errors and "taskConfig.expect.bodyContains" in json.dumps(refused.errors)


def test_jobs_json_carries_jitter_and_an_active_window(api, root):
    fields = {"jitterSeconds": 30, "startAt": "2030-01-01T00:00:00Z", "endAt": "2031-01-01T00:00:00Z"}
    assert sync.run(root(job("health", **fields))).errors == []
    created = stored(api, "health")
    assert (created["jitterSeconds"], created["startAt"], created["endAt"]) == (
        30, "2030-01-01T00:00:00.000Z", "2031-01-01T00:00:00.000Z")  # fmt: skip
    assert created["nextRunAt"] == "2030-01-01T00:00:00.000Z"
    assert actions(sync.run(root(job("health", **fields)))) == {"health": "unchanged"}
    refused = sync.run(root(job("health", **{**fields, "endAt": "2029-01-01T00:00:00Z"})))
    assert refused.errors and "endAt" in json.dumps(refused.errors)
