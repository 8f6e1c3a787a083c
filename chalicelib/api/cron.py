"""Cron preview: a pattern in words and its next runs."""

from __future__ import annotations

from chalice import Blueprint
from cron_descriptor import Options, get_description

from chalicelib import cron
from chalicelib.api.routing import Call, bind
from chalicelib.clock import local_iso, now_ms
from chalicelib.contracts import cron as contract

bp = Blueprint(__name__)


@bind(bp, contract.PREVIEW)
def preview(call: Call) -> dict[str, object]:
    body = call.body
    zone = cron.zone(body.timezone)
    runs, at = [], now_ms()
    for _ in range(body.count):
        at = cron.next_after(body.pattern, body.timezone, at)
        runs.append(local_iso(at, zone))
    options = Options()
    options.use_24hour_time_format = False
    return {"description": get_description(body.pattern, options), "next": runs}
