"""An application's variables: put, list, get, delete."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.routing import Call, Reply, bind
from chalicelib.contracts import variables as contract
from chalicelib.services import variables as service

bp = Blueprint(__name__)


@bind(bp, contract.PUT)
def put(call: Call) -> dict[str, Any]:
    return service.to_api(service.put(call.user, call.path["id"], call.names["name"], call.body))


@bind(bp, contract.LIST)
def list_variables(call: Call) -> list[dict[str, Any]]:
    return [service.to_api(variable) for variable in service.list_visible(call.user, call.path["id"])]


@bind(bp, contract.GET)
def get(call: Call) -> dict[str, Any]:
    return service.to_api(service.get(call.user, call.path["id"], call.names["name"]))


@bind(bp, contract.DELETE)
def delete(call: Call) -> Reply:
    service.delete(call.user, call.path["id"], call.names["name"])
    return Reply(status=204)
