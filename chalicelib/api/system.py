"""Health and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.routing import Call, bind
from chalicelib.contracts import openapi, system
from chalicelib.errors import Unavailable
from chalicelib.services import applications as app_service

bp = Blueprint(__name__)


@bind(bp, system.HEALTH)
def health(call: Call) -> dict[str, str]:
    if not app_service.store_reachable():
        raise Unavailable("the job store is not reachable")
    return {"status": "ok"}


@bind(bp, system.OPENAPI)
def openapi_document(call: Call) -> dict[str, Any]:
    return openapi.document()
