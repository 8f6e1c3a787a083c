"""An application's alert channels: create, list, get, update, delete, test, deliveries."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.routing import Call, Reply, bind
from chalicelib.contracts import channels as contract
from chalicelib.services import channels as service

bp = Blueprint(__name__)


@bind(bp, contract.CREATE)
def create(call: Call) -> Reply:
    channel = service.create(call.user, call.path["id"], call.body)
    return Reply(service.to_api(channel, url=call.body.url), status=201)  # the URL is shown this once


@bind(bp, contract.LIST)
def list_channels(call: Call) -> list[dict[str, Any]]:
    return [service.to_api(channel) for channel in service.list_visible(call.user, call.path["id"])]


@bind(bp, contract.GET)
def get(call: Call) -> dict[str, Any]:
    return service.to_api(service.get(call.user, call.path["id"], call.path["channelId"]))


@bind(bp, contract.UPDATE)
def update(call: Call) -> dict[str, Any]:
    return service.to_api(service.update(call.user, call.path["id"], call.path["channelId"], call.body))


@bind(bp, contract.DELETE)
def delete(call: Call) -> Reply:
    service.delete(call.user, call.path["id"], call.path["channelId"])
    return Reply(status=204)


@bind(bp, contract.TEST)
def test(call: Call) -> dict[str, Any]:
    return service.test(call.user, call.path["id"], call.path["channelId"])


@bind(bp, contract.DELIVERIES)
def deliveries(call: Call) -> list[dict[str, Any]]:
    return service.deliveries(call.user, call.path["id"], call.path["channelId"])
