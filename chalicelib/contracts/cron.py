"""Cron help: what a pattern means in words, and when it fires next."""

from __future__ import annotations

from chalicelib.contracts.base import Example, Operation, Scenario, define
from chalicelib.contracts.models import CronPreview, CronPreviewRequest

PREVIEW = define(
    Operation(
        key="scheduler.cron.preview",
        version="1.0.0",
        kind="query",
        method="POST",
        path="/_/scheduler/cron/preview",
        description="Describe a cron pattern in words and list its next runs in a time zone.",
        goal="Let people check a schedule while they type it, before any job exists (the Admin UI's form).",
        context="The next runs come from the engine's own calendar, DST rules included; nothing is stored.",
        input=CronPreviewRequest,
        output=CronPreview,
        tags=("scheduler", "cron"),
        scenarios=(
            Scenario(
                "weekdays",
                ("a signed-in user",),
                ("they preview 0 2 * * 1-5",),
                ("the answer says Monday through Friday", "lists the next runs at 02:00"),
            ),
        ),
        examples=(
            Example(
                key="weekdays",
                input={"pattern": "0 2 * * 1-5", "timezone": "Europe/Berlin", "count": 3},
                output={"description": "At 02:00 AM, Monday through Friday"},
            ),
            Example(
                key="invalid-pattern",
                input={"pattern": "61 * * * *"},
                status=400,
                output={"error": {"code": "VALIDATION_ERROR", "details": [{"field": "pattern"}]}},
            ),
            Example(
                key="too-many",
                input={"pattern": "* * * * *", "count": 21},
                status=400,
                output={"error": {"code": "VALIDATION_ERROR", "details": [{"field": "count"}]}},
            ),
        ),
    )
)
