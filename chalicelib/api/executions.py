"""Executions: trigger, a job's history, one execution, recent runs."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.routing import Call, Reply, bind, decode_cursor, page_reply
from chalicelib.clock import to_ms
from chalicelib.contracts import executions as contract
from chalicelib.services import executions as service
from chalicelib.services import idempotency
from chalicelib.services import jobs as job_service
from chalicelib.settings import get_settings

bp = Blueprint(__name__)


@bind(bp, contract.TRIGGER)
def trigger(call: Call) -> Reply:
    def action() -> tuple[int, Any, dict[str, str]]:
        execution = service.trigger(call.user, call.path["id"])
        location = contract.GET.url(get_settings().gateway_url, id=execution.id)
        return 202, service.to_api(execution), {"Location": location}

    key = call.header("Idempotency-Key")
    _, app = job_service.get_visible(call.user, call.path["id"])
    status, body, headers = idempotency.run_once(
        f"{contract.TRIGGER.key}#{call.path['id']}", call.user, int(app.id), key, {}, action
    )
    return Reply(body, status=status, headers=headers)


@bind(bp, contract.JOB_EXECUTIONS)
def job_executions(call: Call) -> Reply:
    query = call.query
    found, more = service.list_for_job(
        call.user,
        call.path["id"],
        query.limit,
        query.status,
        before_slot=decode_cursor(query.cursor) or None,
        from_ms=to_ms(query.from_) if query.from_ else None,
        until_ms=to_ms(query.to) if query.to else None,
    )
    return page_reply(call, [service.to_api(e) for e in found], more, found[-1].slot if found else None)


@bind(bp, contract.GET)
def get(call: Call) -> dict[str, Any]:
    return service.to_api(service.get(call.user, call.path["id"]))


@bind(bp, contract.LIST)
def recent(call: Call) -> Reply:
    before = decode_cursor(call.query.cursor) or None
    found, more = service.list_recent(call.user, call.query, before)
    return page_reply(call, [service.to_api(e) for e in found], more, found[-1].id if found else None)
