"""Deploy checks that need no AWS account: the template, `chalice package` for both stages, the policies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from chalicelib.local.infra import load_template
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "infra"))
import deploy

STAGES = ("dev", "prod")


def cfn_lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(path)], capture_output=True, text=True,
                          check=False)  # fmt: skip


def test_the_infra_template_passes_cfn_lint():
    result = cfn_lint(ROOT / "infra" / "template.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("stage", STAGES)
def test_stage_policy_is_least_privilege(stage):
    policy = json.loads((ROOT / ".chalice" / f"policy-{stage}.json").read_text())
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"][stage]
    assert config["autogen_policy"] is False and config["iam_policy_file"] == f"policy-{stage}.json"
    for statement in policy["Statement"]:
        if statement["Sid"] == "SigningKeys":  # KMS keys are authorised by alias: any key, only through the stage's
            aliases = statement["Condition"]["ForAnyValue:StringEquals"]["kms:ResourceAliases"]
            assert statement["Resource"] == ["arn:aws:kms:*:*:key/*"]
            assert aliases == [f"alias/scheduler-{stage}-signing"]
            assert config["environment_variables"]["SIGNING_KMS_KEY_ID"] == aliases[0]
            continue
        for resource in statement["Resource"]:
            assert resource != "*" and f"scheduler-{stage}" in resource, resource
        assert all(not action.endswith(":*") for action in statement["Action"]), statement


def test_infra_deploy_creates_then_leaves_an_unchanged_stack():
    with mock_aws():
        client = boto3.client("cloudformation")
        outputs = deploy.deploy_infra("dev", client)
        assert outputs["JobsTableName"] == "scheduler-dev-jobs"
        assert outputs["InvokerQueueUrl"].endswith("/scheduler-dev-invoker")
        assert deploy.deploy_infra("dev", client) == outputs
    env = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]["dev"]["environment_variables"]
    assert env["JOBS_TABLE"] == outputs["JobsTableName"] and env["EVENT_BUS_NAME"] == outputs["EventBusName"]


@pytest.mark.slow
@pytest.mark.parametrize("stage", STAGES)
def test_chalice_package_has_the_tick_the_invoker_source_and_no_wildcards(stage, tmp_path):
    out = tmp_path / stage
    result = subprocess.run(
        [str(Path(sys.executable).parent / "chalice"), "package", "--stage", stage,
         "--merge-template", "infra/chalice-merge.json", str(out)],
        cwd=ROOT, capture_output=True, text=True, check=False,
        env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "INVOKER_QUEUE_NAME": f"scheduler-{stage}-invoker",
             "INVOKER_DLQ_NAME": f"scheduler-{stage}-invoker-dlq"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    template = json.loads((out / "sam.json").read_text())
    resources = template["Resources"]
    events = {name: event for res in resources.values() for name, event in res.get("Properties", {})
              .get("Events", {}).items()}  # fmt: skip
    schedules = [e for e in events.values() if e["Type"] == "Schedule"]
    assert [e["Properties"]["Schedule"] for e in schedules] == ["rate(1 minute)"]
    sqs = [e["Properties"] for e in events.values() if e["Type"] == "SQS"]
    dead = [source for source in sqs if f"scheduler-{stage}-invoker-dlq" in json.dumps(source["Queue"])]
    runs = [source for source in sqs if source not in dead]
    assert len(runs) == 1 and runs[0]["BatchSize"] == 10 and len(dead) == 1  # the invoker and the DLQ handler
    assert runs[0]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert f"scheduler-{stage}-invoker" in json.dumps(runs[0]["Queue"])
    functions = [res["Properties"] for res in resources.values() if res["Type"] == "AWS::Serverless::Function"]
    invoker = next(props for props in functions if json.dumps(runs[0]) in json.dumps(props.get("Events", {})))
    visibility = load_template()["Resources"]["InvokerQueue"]["Properties"]["VisibilityTimeout"]
    assert invoker["Timeout"] == 900 < visibility  # a run may take its job's 900 s timeout; SQS must not redeliver
    assert invoker["MemorySize"] == 256  # chosen by measurement: docs/benchmarks.md, Lambda size
    architectures = [props.get("Architectures") for props in functions]
    assert architectures and all(found == ["arm64"] for found in architectures), architectures
    policies = [p for res in resources.values() if res["Type"] == "AWS::IAM::Role"
                for p in res["Properties"].get("Policies", [])]  # fmt: skip
    assert policies, "the role carries the stage policy"
    for policy in policies:
        for statement in policy["PolicyDocument"]["Statement"]:
            resources_named = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            assert "*" not in resources_named, statement
    lint = cfn_lint(out / "sam.json")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    size = (out / "deployment.zip").stat().st_size
    print(f"\n{stage}: deployment.zip {size / 1e6:.1f} MB, {len(resources)} resources")


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_function_the_config_sizes_is_a_function_of_the_app(stage):
    """A `lambda_functions` key that names no handler is silently ignored by Chalice (the function then runs at
    the default 128 MB): each must be one of app.py's functions."""
    import app as chalice_app

    config = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"][stage]
    functions = set(chalice_app.app.handler_map) | {"api_handler"}  # the API's one function
    assert set(config["lambda_functions"]) <= functions and "dead_letters_handler" in config["lambda_functions"]
