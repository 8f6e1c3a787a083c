"""An application's signing keys: create, list, public keys, retire."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.routing import Call, Reply, bind
from chalicelib.contracts import signing_keys as contract
from chalicelib.services import signing_keys as service

bp = Blueprint(__name__)


@bind(bp, contract.CREATE)
def create(call: Call) -> dict[str, Any]:
    return service.created_to_api(service.create(call.user, call.path["id"], call.body))


@bind(bp, contract.LIST)
def list_keys(call: Call) -> list[dict[str, Any]]:
    return [service.to_api(key) for key in service.list_visible(call.user, call.path["id"])]


@bind(bp, contract.PUBLIC)
def public_keys(call: Call) -> list[dict[str, str]]:
    return service.public_keys(call.path["id"])


@bind(bp, contract.DELETE)
def retire(call: Call) -> Reply:
    service.retire(call.user, call.path["id"], call.names["keyId"])
    return Reply(status=204)
