"""Jobs: CRUD, enable/disable, one-off schedule."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.routing import Call, Reply, bind, decode_cursor, page_reply
from chalicelib.contracts import jobs as contract
from chalicelib.contracts.models import JobSpec
from chalicelib.services import idempotency, tenancy
from chalicelib.services import jobs as service
from chalicelib.settings import get_settings
from chalicelib.store.records import Application, Job

bp = Blueprint(__name__)


def job_reply(job: Job, app: Application, status: int | None = None, with_upcoming: bool = False) -> Reply:
    headers = {"ETag": service.etag(job)}
    if status == 201:
        headers["Location"] = contract.GET.url(get_settings().gateway_url, id=job.id)
    return Reply(service.to_api(job, app, with_upcoming), status=status, headers=headers)


def _create(call: Call, spec: JobSpec, operation: str) -> Reply:
    def action() -> tuple[int, object, dict[str, str]]:
        reply = job_reply(*service.create(call.user, spec), status=201)
        return 201, reply.body, reply.headers

    scope = int(tenancy.writable_application(call.user, spec.applicationId).id)
    status, body, headers = idempotency.run_once(
        operation, call.user, scope, call.header("Idempotency-Key"), call.json, action
    )
    return Reply(body, status=status, headers=headers)


@bind(bp, contract.CREATE)
def create(call: Call) -> Reply:
    return _create(call, call.body, contract.CREATE.key)


@bind(bp, contract.SCHEDULE)
def schedule(call: Call) -> Reply:
    spec = JobSpec.model_validate({**call.body.model_dump(mode="json", exclude_none=True), "enabled": True})
    return _create(call, spec, contract.SCHEDULE.key)


@bind(bp, contract.LIST)
def list_jobs(call: Call) -> Reply:
    query = call.query
    items, more = service.list_visible(
        call.user,
        decode_cursor(query.cursor),
        query.limit,
        query.applicationId,
        query.enabled,
        query.name,
        with_last_run=query.include == "lastRun",
    )
    last_read = items[-1]["id"] if items else None
    if query.health is not None:  # among the jobs this page read: the next page goes on after them
        items = [item for item in items if item["health"]["state"] == query.health]
    return page_reply(call, items, more, last_read)


@bind(bp, contract.GET)
def get(call: Call) -> Reply:
    job, app = service.get_visible(call.user, call.path["id"])
    reply = job_reply(job, app, with_upcoming=True)
    reply.body["health"] = service.health_view(job)
    return reply


@bind(bp, contract.UPDATE)
def update(call: Call) -> Reply:
    job, app, dropped = service.update(call.user, call.path["id"], call.body, call.header("If-Match"))
    reply = job_reply(job, app)
    if dropped:
        reply.body["droppedCredentials"] = dropped
    return reply


@bind(bp, contract.DELETE)
def delete(call: Call) -> Reply:
    service.delete(call.user, call.path["id"])
    return Reply(status=204)


@bind(bp, contract.ENABLE)
def enable(call: Call) -> Reply:
    return job_reply(*service.set_enabled(call.user, call.path["id"], True))


@bind(bp, contract.DISABLE)
def disable(call: Call) -> Reply:
    return job_reply(*service.set_enabled(call.user, call.path["id"], False, call.body))
