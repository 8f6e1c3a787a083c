"""Scheduler statistics."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.routing import Call, bind
from chalicelib.contracts import executions as contract
from chalicelib.services import executions as service

bp = Blueprint(__name__)


@bind(bp, contract.STATS)
def stats(call: Call) -> dict[str, Any]:
    return service.stats(call.user)
