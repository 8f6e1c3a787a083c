"""The OpenAPI document is generated from the contracts, served, committed, and covers every route."""

from __future__ import annotations

import json

from openapi_spec_validator import validate

from app import app
from chalicelib.contracts.base import REGISTRY
from chalicelib.contracts.openapi import document
from tests.conftest import ROOT

COMMITTED = ROOT / "docs" / "openapi.json"


def test_served_without_auth_and_equal_to_the_generated_document(api):
    answer = api.as_user(None).get("/_/scheduler/openapi.json")
    assert answer.status == 200
    assert answer.json == document()
    assert answer.json["openapi"] == "3.1.0"


def test_committed_copy_does_not_drift():
    assert COMMITTED.exists(), "run `make openapi`"
    assert json.loads(COMMITTED.read_text()) == json.loads(json.dumps(document())), "run `make openapi`"


def test_every_route_is_documented_with_braced_path_parameters():
    doc = document()
    static = ("/_/scheduler/ui",)  # the Admin UI's files are not API operations
    routes = {(path, method.lower()) for path, methods in app.routes.items() for method in methods
              if not path.startswith(static)}  # fmt: skip
    documented = {(path, method) for path, methods in doc["paths"].items() for method in methods}
    assert routes == documented
    assert "/_/scheduler/jobs/{id}" in doc["paths"]
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            params = [p["name"] for p in operation["parameters"] if p["in"] == "path"]
            assert params == [part[1:-1] for part in path.split("/") if part.startswith("{")], (path, method)
            assert operation["x-contract"]["key"] in REGISTRY


def test_contract_meta_is_published():
    contract = document()["paths"]["/_/scheduler/jobs/schedule"]["post"]["x-contract"]
    assert contract["key"] == "scheduler.job.schedule"
    assert contract["version"] == "1.0.0" and contract["stability"] == "stable"
    assert contract["scenarios"][0]["then"] == ["Job is created with status scheduled"]


TIMESTAMP_NAMES = {"scheduledFor", "at", "local", "next", "runAt"}  # and every name ending in `At`


def _string_forms(schema: dict) -> list[dict]:
    """The string schemas a property can take: through anyOf (nullable) and array items."""
    forms = [form for option in schema.get("anyOf", []) for form in _string_forms(option)]
    if schema.get("type") == "array":
        forms += _string_forms(schema["items"])
    return forms + ([schema] if schema.get("type") == "string" else [])


def test_every_timestamp_is_a_date_time():
    checked = []
    for model, schema in document()["components"]["schemas"].items():
        for name, prop in schema.get("properties", {}).items():
            if name in TIMESTAMP_NAMES or name.endswith("At"):
                forms = _string_forms(prop)
                assert forms and all(form.get("format") == "date-time" for form in forms), f"{model}.{name}: {prop}"
                checked.append(f"{model}.{name}")
    assert {"Job.createdAt", "Job.nextRunAt", "Execution.finishedAt", "EngineStats.lastTickAt"} <= set(checked)


def test_openapi_spec_validator_accepts_the_document():
    validate(document())  # raises OpenAPIValidationError naming the first problem
