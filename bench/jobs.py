"""The bench's jobs: a realistic job (a POST with a ~500-byte JSON body and three headers, one of them a
credential), stored with the attribute names the store writes (`JobModel`, its client-written fields as one
JSON `spec`), seeded in batches of 25 (through the API each job costs a transaction), and its masked snapshot
in the keys table as `store/jobs.py` writes it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import boto3

from chalicelib.contracts.models import JobSpec
from chalicelib.settings import get_settings
from chalicelib.store import jobs as job_store
from chalicelib.store.models import JobModel, KeyModel
from chalicelib.store.records import Job
from chalicelib.views import job_snapshot, snapshot_key

FAR = 4_102_444_800_000  # 2100-01-01: stored but not due
CREATED = 1_764_000_000_000
PER_MINUTE, EVERY_5_MINUTES, HOURLY, YEARLY = "* * * * *", "*/5 * * * *", "0 * * * *", "0 0 1 1 *"
PERIOD_MS = {PER_MINUTE: 60_000, EVERY_5_MINUTES: 300_000, HOURLY: 3_600_000, YEARLY: 365 * 86_400_000}

# A typical call to a partner API: which accounts to sync, a window, options, who to tell (~500 bytes).
BODY: dict[str, Any] = {
    "task": "sync-orders",
    "accounts": [f"acct_{n:06d}" for n in (101, 2204, 31877, 40012, 57310, 61001, 72020, 88555)],
    "window": {"lookbackMinutes": 15, "overlapSeconds": 30, "timezone": "Europe/Berlin"},
    "filters": {"status": ["paid", "pending", "refunded"], "minAmount": 0.5, "currency": "EUR", "channel": "web"},
    "options": {"dryRun": False, "pageSize": 200, "includeLineItems": True, "dedupe": True, "maxPages": 20},
    "notify": {"onFailure": ["ops@example.com", "billing-oncall@example.com"], "slackChannel": "#billing-sync"},
    "source": {"system": "erp", "region": "eu-central-1", "tenant": "acme-gmbh"},
}
HEADERS = {
    "X-Api-Key": "sk_live_4f9a2c7e1b8d3f6a0e5c9b2d7f1a4e8c",
    "X-Tenant": "acme-gmbh",
    "X-Client-Version": "2026.11",
}


def realistic_task(base: str, path: str = "/v1/orders/sync", method: str = "POST") -> dict[str, Any]:
    task: dict[str, Any] = {"endpoint": base, "path": path, "method": method, "headers": dict(HEADERS)}
    if method == "POST":
        task["body"] = BODY
    return task


def spec(app_id: int, name: str, pattern: str, task: dict[str, Any], attempts: int = 1) -> JobSpec:
    retry = {"maxAttempts": attempts, "backoff": {"initialSeconds": 1, "maxSeconds": 5}}
    return JobSpec.model_validate({"applicationId": app_id, "name": name, "pattern": pattern, "taskConfig": task,
                                   "retryPolicy": retry})  # fmt: skip


def batch_write(table: str, requests: list[dict[str, Any]]) -> None:
    """BatchWriteItem, 25 requests a call, 8 threads, unprocessed items sent again (bounded)."""
    client = boto3.client("dynamodb")

    def write(chunk: list[dict[str, Any]]) -> None:
        pending: dict[str, Any] = {table: chunk}
        for _ in range(20):
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not pending:
                return
        raise RuntimeError("BatchWriteItem left items unprocessed after 20 tries")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, [requests[i : i + 25] for i in range(0, len(requests), 25)]))


def seed(
    job_ids: range,
    app_id: int,
    next_run_at: int | None,
    template: JobSpec,
    snapshots: bool = False,
    path_per_job: bool = False,
) -> list[Job]:
    """Store these jobs (the template's spec, named by id), due from `next_run_at` (None: not in the due index);
    with `snapshots`, their masked snapshot items as well (what a run refers to); with `path_per_job`, each job
    calls its own path (the template's, then its id)."""
    jobs, items, keys = [], [], []
    for job_id in job_ids:
        update: dict[str, Any] = {"name": f"bench-{job_id}", "applicationId": app_id}
        if path_per_job:
            path = f"{template.taskConfig.path or ''}/{job_id}"
            update["taskConfig"] = template.taskConfig.model_copy(update={"path": path})
        job = Job(id=job_id, spec=template.model_copy(update=update),
                  version=1, created_at=CREATED, updated_at=CREATED, created_by="bench", updated_by="bench",
                  next_run_at=next_run_at)  # fmt: skip
        content = job_snapshot(job)
        job = replace(job, snapshot=snapshot_key(content))
        jobs.append(job)
        items.append({"PutRequest": {"Item": job_item(job)}})
        if snapshots:
            snapshot = KeyModel(f"snapshot#{job.id}#{job.snapshot}", data=content)
            keys.append({"PutRequest": {"Item": snapshot.serialize()}})
    batch_write(get_settings().jobs_table, items)
    if keys:
        batch_write(get_settings().keys_table, keys)
    return jobs


def job_item(job: Job) -> dict[str, Any]:
    """The job's item as `store/jobs.py` writes it (`_item`): the same model, the same attributes."""
    due = job.next_run_at is not None and job.enabled
    return JobModel(
        job.id, applicationId=job.application_id, name=job.name, enabled=job.enabled,
        spec=job_store.spec_bytes(job.spec), snapshot=job.snapshot, createdAt=job.created_at,
        createdBy=job.created_by, updatedAt=job.updated_at, updatedBy=job.updated_by, version=job.version,
        nextRunAt=job.next_run_at if due else None, dueShard=job_store.due_shard(job.id) if due else None,
    ).serialize()  # fmt: skip


def remove(job_ids: range) -> None:
    batch_write(get_settings().jobs_table, [{"DeleteRequest": {"Key": {"id": {"N": str(j)}}}} for j in job_ids])
