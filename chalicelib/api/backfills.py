"""Backfills: start one for a job, read its progress, cancel it."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.routing import Call, Reply, bind
from chalicelib.contracts import backfills as contract
from chalicelib.services import backfills as service
from chalicelib.settings import get_settings

bp = Blueprint(__name__)


@bind(bp, contract.CREATE)
def create(call: Call) -> Reply:
    backfill = service.create(call.user, call.path["id"], call.body)
    location = contract.GET.url(get_settings().gateway_url, id=backfill.id)
    return Reply(service.to_api(backfill), headers={"Location": location})


@bind(bp, contract.GET)
def get(call: Call) -> dict[str, Any]:
    return service.to_api(service.visible(call.user, call.path["id"]))


@bind(bp, contract.CANCEL)
def cancel(call: Call) -> dict[str, Any]:
    return service.to_api(service.cancel(call.user, call.path["id"]))
