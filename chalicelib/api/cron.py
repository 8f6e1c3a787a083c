"""Cron preview: a pattern in words and its next runs."""

from __future__ import annotations

from chalice import Blueprint
from cron_descriptor import Options, get_description

from chalicelib import cron
from chalicelib.api.routing import Call, bind
from chalicelib.clock import local_iso, now_ms, to_ms
from chalicelib.contracts import cron as contract
from chalicelib.errors import ValidationError

bp = Blueprint(__name__)


@bind(bp, contract.PREVIEW)
def preview(call: Call) -> dict[str, object]:
    body = call.body
    zone = cron.zone(body.timezone)
    start, end = (to_ms(moment) if moment is not None else None for moment in (body.startAt, body.endAt))
    if start is not None and end is not None and end <= start:
        raise ValidationError.for_field("endAt", "must be after startAt")
    runs: list[str] = []
    at: int | None = now_ms()
    while at is not None and len(runs) < body.count:
        at = cron.next_in_window(body.pattern, body.timezone, at, start, end)
        if at is not None:
            runs.append(local_iso(at, zone))
    options = Options()
    options.use_24hour_time_format = False
    return {"description": get_description(body.pattern, options), "next": runs}
