"""Bootstrap variables: `variables.json` (non-secret) and `VARIABLE_<APP>_<NAME>` (secret) follow the jobs'
lifecycle rows; a job referring to a variable that exists nowhere is a problem, and nothing is written."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from chalicelib.bootstrap import sync
from chalicelib.bootstrap.__main__ import main
from chalicelib.store import variables as variable_store

SCOPE = "bootstrap:crm"
VARS = "/_/scheduler/applications/{}/variables"


def job(name: str, url: str = "https://${HOST}/health") -> dict:
    return {"name": name, "pattern": "*/5 * * * *", "taskConfig": {"url": url}}


@pytest.fixture
def files(tmp_path: Path):
    folder = tmp_path / "crm"
    folder.mkdir()
    (folder / "application.json").write_text(json.dumps({"name": "crm", "displayName": "CRM"}))

    def write(variables: object | None, *jobs: dict) -> Path:
        if variables is None:
            (folder / "variables.json").unlink(missing_ok=True)
        else:
            (folder / "variables.json").write_text(json.dumps(variables))
        (folder / "jobs.json").write_text(json.dumps(list(jobs)))
        return tmp_path

    return write


def rows(report) -> dict[str, str]:
    return {step.variable: step.action for step in report.variables}


def app_id(api) -> int:
    return next(app["id"] for app in api.get("/_/scheduler/applications").json if app["name"] == "crm")


def test_variables_are_created_before_the_jobs_that_use_them_and_owned_by_bootstrap(api, files):
    report = sync.run(files({"HOST": "crm.example.com", "REGION": "eu"}, job("health")))
    assert report.errors == [] and rows(report) == {"HOST": "create", "REGION": "create"}
    assert {step.job: step.action for step in report.steps if step.job} == {"health": "create"}
    host = api.get(VARS.format(app_id(api)) + "/HOST").json
    assert host["value"] == "crm.example.com" and host["updatedBy"] == SCOPE
    again = sync.run(files({"HOST": "crm.example.com", "REGION": "eu"}, job("health")))
    assert rows(again) == {"HOST": "unchanged", "REGION": "unchanged"} and again.writes == 0


def test_a_changed_value_is_updated_and_a_removed_variable_deleted(api, files):
    sync.run(files({"HOST": "crm.example.com", "OLD": "x"}, job("health")))
    report = sync.run(files({"HOST": "crm.staging.example.com"}, job("health")))
    assert rows(report) == {"HOST": "update", "OLD": "delete"}
    listed = {v["name"]: v["value"] for v in api.get(VARS.format(app_id(api))).json}
    assert listed == {"HOST": "crm.staging.example.com"}


def test_a_variable_changed_through_the_api_is_skipped_with_a_warning(api, files, caplog):
    sync.run(files({"HOST": "crm.example.com"}))
    assert api.put(VARS.format(app_id(api)) + "/HOST", {"value": "hand.example.com"}).status == 200
    with caplog.at_level(logging.WARNING):
        report = sync.run(files({"HOST": "crm.example.com"}))
    assert rows(report) == {"HOST": "skip-modified"} and "HOST" in caplog.text and report.warnings
    assert api.get(VARS.format(app_id(api)) + "/HOST").json["value"] == "hand.example.com"
    assert rows(sync.run(files({}))) == {"HOST": "leave"}  # not bootstrap's any more: left in place


def test_a_variable_created_through_the_api_is_foreign_and_left(api, files):
    sync.run(files({}))
    api.put(VARS.format(app_id(api)) + "/TEAM", {"value": "ops"})
    assert rows(sync.run(files({"TEAM": "core"}))) == {"TEAM": "skip-foreign"}
    assert rows(sync.run(files({}))) == {"TEAM": "leave"}
    assert api.get(VARS.format(app_id(api)) + "/TEAM").json["value"] == "ops"


def test_an_owned_variable_a_job_outside_the_files_still_uses_is_not_deleted(api, files):
    sync.run(files({"HOST": "crm.example.com"}))
    made = api.post("/_/scheduler/jobs", {"applicationId": app_id(api), "name": "by-hand", "pattern": "0 0 * * *",
                                          "taskConfig": {"url": "https://${HOST}/x"}})  # fmt: skip
    assert made.status == 201, made.body
    report = sync.run(files({}))
    assert rows(report) == {"HOST": "skip-in-use"} and any("by-hand" in w for w in report.warnings)
    assert api.get(VARS.format(app_id(api)) + "/HOST").status == 200


def test_secret_variables_come_from_the_environment_never_from_files(api, files, monkeypatch):
    assert sync.run(files({"API_KEY": {"value": "sk", "secret": True}})).errors  # a secret in a file: refused
    monkeypatch.setenv("VARIABLE_CRM_API_KEY", "sk_live_from_pipeline")
    report = sync.run(files({"HOST": "crm.example.com"}, job("health", url="https://${HOST}/x?k=${API_KEY}")))
    assert report.errors == [] and rows(report) == {"API_KEY": "create", "HOST": "create"}
    shown = api.get(VARS.format(app_id(api)) + "/API_KEY").json
    assert shown["secret"] is True and shown["value"] == "********"
    assert variable_store.all_of(app_id(api))["API_KEY"].value == "sk_live_from_pipeline"
    assert "sk_live_from_pipeline" not in json.dumps(report.as_dict())


@pytest.mark.parametrize(
    ("variables", "field"),
    [({"host": "x"}, "host"), ({"JOB_NAME": "x"}, "JOB_NAME"), ({"HOST": 5}, "HOST"), ({"HOST": "a\nb"}, "HOST"),
     (["HOST"], "file")],
)  # fmt: skip
def test_bad_variables_are_reported_and_nothing_is_written(api, files, variables, field):
    report = sync.run(files(variables, job("health", url="https://crm.example.com/")))
    assert report.errors and any(f" {field}:" in error for error in report.errors) and report.writes == 0
    assert not [app for app in api.get("/_/scheduler/applications").json if app["name"] == "crm"]


def test_a_job_referring_to_a_variable_that_exists_nowhere_is_reported_and_nothing_is_written(api, files):
    report = sync.run(files({"REGION": "eu"}, job("health")))
    assert report.writes == 0 and any("taskConfig.url" in e and "HOST" in e for e in report.errors)


def test_a_variable_the_application_already_has_satisfies_a_job(api, files):
    sync.run(files({}))
    api.put(VARS.format(app_id(api)) + "/HOST", {"value": "crm.example.com"})
    report = sync.run(files(None, job("health")))
    assert report.errors == [] and {s.job: s.action for s in report.steps if s.job} == {"health": "create"}


def test_the_cli_lists_variable_rows(api, files, capsys):
    folder = files({"HOST": "crm.example.com"}, job("health"))
    assert main([str(folder), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "${HOST}" in out and "create" in out
    assert main([str(folder), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["variables"] == [
        {"application": "crm", "variable": "HOST", "action": "create", "detail": ""}]  # fmt: skip
