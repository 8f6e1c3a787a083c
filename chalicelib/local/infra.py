"""Create infra/template.yaml in an AWS endpoint (moto locally) and read back its outputs."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import boto3
import yaml

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "template.yaml"
AWS_ONLY = frozenset({"AWS::CloudWatch::Alarm"})  # moto's CloudFormation cannot create these; it warns per alarm


def load_template() -> dict[str, Any]:
    return copy.deepcopy(_parsed_template())


@functools.cache
def _parsed_template() -> dict[str, Any]:
    """Parsed once per process: every test's fresh moto account creates the stack."""
    template: dict[str, Any] = yaml.safe_load(TEMPLATE.read_text())
    return template


@functools.cache
def _local_template_body() -> str:
    body: str = yaml.safe_dump(local_template(), sort_keys=False)
    return body


def local_template() -> dict[str, Any]:
    """The template without the resources that exist only on AWS (the alarms)."""
    template = load_template()
    resources = template["Resources"]
    template["Resources"] = {name: r for name, r in resources.items() if r["Type"] not in AWS_ONLY}
    return template


def create_stack(prefix: str = "scheduler", stack_name: str = "scheduler-local") -> dict[str, str]:
    """Create the stack in moto (idempotent) and return its outputs; also applies TTL, which moto's CFN skips."""
    cfn = boto3.client("cloudformation")
    existing = {s["StackName"] for s in cfn.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"}
    if stack_name not in existing:
        cfn.create_stack(
            StackName=stack_name,
            TemplateBody=_local_template_body(),
            Parameters=[{"ParameterKey": "Prefix", "ParameterValue": prefix}],
        )
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        cfn.get_waiter("stack_create_complete").wait(StackName=stack_name, WaiterConfig={"Delay": 1})
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    _apply_ttl(prefix)
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _apply_ttl(prefix: str) -> None:
    dynamodb = boto3.client("dynamodb")
    for resource in _parsed_template()["Resources"].values():
        props = resource.get("Properties", {})
        ttl = props.get("TimeToLiveSpecification")
        if resource["Type"] == "AWS::DynamoDB::Table" and ttl:
            name = props["TableName"]["Fn::Sub"].replace("${Prefix}", prefix)
            current = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
            if current.get("TimeToLiveStatus") != "ENABLED":
                dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)


def stack_env(outputs: dict[str, str]) -> dict[str, str]:
    """The settings environment the stack's outputs feed (the same names `.chalice/config.json` uses)."""
    return {
        "APPLICATIONS_TABLE": outputs["ApplicationsTableName"],
        "JOBS_TABLE": outputs["JobsTableName"],
        "EXECUTIONS_TABLE": outputs["ExecutionsTableName"],
        "KEYS_TABLE": outputs["KeysTableName"],
        "INVOKER_QUEUE_URL": outputs["InvokerQueueUrl"],
        "INVOKER_DLQ_URL": outputs["InvokerDeadLetterQueueUrl"],
        "EVENT_BUS_NAME": outputs["EventBusName"],
    }
