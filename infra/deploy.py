"""`make deploy STAGE=dev`: the infrastructure stack, then `chalice deploy`, then the bootstrap sync.

1. create or update the CloudFormation stack `scheduler-<stage>` from infra/template.yaml
   (Prefix=scheduler-<stage>: exactly the names the stage's variables in .chalice/config.json use);
2. copy bootstrap/ into chalicelib/bootstrap_files/ and run `chalice deploy --stage <stage>`;
3. invoke the `scheduler-<stage>-bootstrap` function and print its plan.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "infra" / "template.yaml"
PACKAGED_BOOTSTRAP = ROOT / "chalicelib" / "bootstrap_files"


def deploy_infra(stage: str, client: Any = None) -> dict[str, str]:
    """Create or update the stack (no-op when nothing changed); returns its outputs."""
    cfn = client or boto3.client("cloudformation")
    name = f"scheduler-{stage}"
    params = {
        "StackName": name,
        "TemplateBody": TEMPLATE.read_text(),
        "Parameters": [{"ParameterKey": "Prefix", "ParameterValue": name}],
        "Capabilities": ["CAPABILITY_NAMED_IAM"],
    }
    try:
        cfn.describe_stacks(StackName=name)
        exists = True
    except ClientError:
        exists = False
    try:
        if exists:
            cfn.update_stack(**params)
            cfn.get_waiter("stack_update_complete").wait(StackName=name)
        else:
            cfn.create_stack(**params)
            cfn.get_waiter("stack_create_complete").wait(StackName=name)
    except ClientError as exc:
        if "No updates are to be performed" not in str(exc):
            raise
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def ship_bootstrap() -> None:
    shutil.rmtree(PACKAGED_BOOTSTRAP, ignore_errors=True)
    shutil.copytree(ROOT / "bootstrap", PACKAGED_BOOTSTRAP)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="dev", choices=["dev", "prod"])
    args = parser.parse_args(argv)
    outputs = deploy_infra(args.stage)
    print(json.dumps(outputs, indent=2))
    ship_bootstrap()
    try:
        # app.py names the invoker's queue at import, before Chalice applies the stage's variables
        env = {**os.environ, "INVOKER_QUEUE_NAME": f"scheduler-{args.stage}-invoker",
               "INVOKER_DLQ_NAME": f"scheduler-{args.stage}-invoker-dlq"}  # fmt: skip
        command = [sys.executable, "-m", "chalice", "deploy", "--stage", args.stage]
        subprocess.run(command, cwd=ROOT, check=True, env=env)  # noqa: S603 - fixed arguments
    finally:
        shutil.rmtree(PACKAGED_BOOTSTRAP, ignore_errors=True)
    answer = boto3.client("lambda").invoke(
        FunctionName=f"scheduler-{args.stage}-bootstrap", Payload=json.dumps({"dryRun": False}).encode()
    )
    plan = json.loads(answer["Payload"].read())
    print(json.dumps(plan, indent=2))
    return 1 if plan.get("errors") else 0


if __name__ == "__main__":
    sys.exit(main())
