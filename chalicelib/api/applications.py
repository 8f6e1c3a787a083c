"""Applications: create (admin), list, get."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.routing import Call, Reply, bind, decode_cursor, page_reply
from chalicelib.contracts import applications as contract
from chalicelib.services import applications as service
from chalicelib.settings import get_settings

bp = Blueprint(__name__)


@bind(bp, contract.CREATE)
def create(call: Call) -> Reply:
    app, first_key = service.create(call.user, call.body)
    location = contract.GET.url(get_settings().gateway_url, id=app.id)
    signing_key = {"id": first_key.key.id, "type": first_key.key.type, "secret": first_key.shown}
    return Reply({**service.to_api(app), "signingKey": signing_key}, headers={"Location": location})


@bind(bp, contract.LIST)
def list_applications(call: Call) -> Reply:
    apps, more = service.list_visible(call.user, decode_cursor(call.query.cursor), call.query.limit)
    return page_reply(call, [service.to_api(app) for app in apps], more, int(apps[-1].id) if apps else None)


@bind(bp, contract.GET)
def get(call: Call) -> dict[str, Any]:
    return service.to_api(service.get(call.user, call.path["id"]))
