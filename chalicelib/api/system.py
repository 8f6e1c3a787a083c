"""Health and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.routing import Call, bind
from chalicelib.contracts import openapi, system
from chalicelib.errors import ApiError
from chalicelib.store.models import ApplicationModel

bp = Blueprint(__name__)


class Unavailable(ApiError):
    status, code = 503, "UNAVAILABLE"


@bind(bp, system.HEALTH)
def health(call: Call) -> dict[str, str]:
    try:
        ApplicationModel.describe_table()
    except Exception as exc:
        raise Unavailable("the job store is not reachable") from exc
    return {"status": "ok"}


@bind(bp, system.OPENAPI)
def openapi_document(call: Call) -> dict[str, Any]:
    return openapi.document()
