"""Operations on an application's alert channels: where its jobs' `failing`, `recovered` and `late` alerts go."""

from __future__ import annotations

from chalicelib.contracts.base import Example, Operation, Scenario, define
from chalicelib.contracts.models import Channel, ChannelCreate, ChannelTestResult, ChannelUpdate, Delivery

TAGS = ("scheduler", "channel")
LIST_PATH = "/_/scheduler/applications/{id}/channels"
ONE = LIST_PATH + "/{channelId}"
CONTEXT = (
    "Members of the application and admins; other tenants get 404. A job alerts when it has an `alerts` rule: "
    "every channel of its application that lists the event receives it. A channel's URL is a secret, shown "
    "once, and passes the URL guard exactly like a job's target."
)
HOOK = "https://hooks.example.com/services/T000/B000/abc123"
MISSING = {"id": "{applicationId}", "channelId": "424242"}
NOT_FOUND = {"error": {"code": "NOT_FOUND"}}

CREATE = define(
    Operation(
        key="scheduler.channel.create",
        version="1.0.0",
        kind="command",
        method="POST",
        path=LIST_PATH,
        description="Create an alert channel; its URL is in this answer only, then masked after its host.",
        goal="Be told when a job starts failing, recovers, or does not start on time.",
        context=CONTEXT + " At most 20 channels per application; names are unique within it (409).",
        input=ChannelCreate,
        output=Channel,
        status=201,
        tags=TAGS,
        errors={
            400: "the URL is refused by the URL guard (URL_NOT_ALLOWED)",
            409: "a channel of that name exists, the application has 20 channels, or other requests changed its "
            "channels on every attempt",
        },
        scenarios=(
            Scenario("slack", ("`crm` has a job with alerts",), ("a slack channel is added",), ("its alerts post",)),
        ),
        examples=(
            Example(
                key="slack-channel",
                given=("application",),
                path={"id": "{applicationId}"},
                input={"name": "ops", "type": "slack", "url": HOOK},
                output={"name": "ops", "type": "slack", "url": HOOK, "events": ["failing", "recovered", "late"]},
                status=201,
            ),
            Example(
                key="private-url-refused",
                given=("application",),
                path={"id": "{applicationId}"},
                input={"name": "metadata", "type": "webhook", "url": "http://169.254.169.254/latest"},
                output={"error": {"code": "URL_NOT_ALLOWED", "details": [{"field": "url"}]}},
                status=400,
            ),
            Example(
                key="other-tenant",
                given=("application",),
                path={"id": "{applicationId}"},
                input={"name": "ops", "type": "slack", "url": HOOK},
                output=NOT_FOUND,
                status=404,
                as_user="outsider",
            ),
        ),
    )
)

LIST = define(
    Operation(
        key="scheduler.channel.list",
        version="1.0.0",
        kind="query",
        method="GET",
        path=LIST_PATH,
        description="The application's alert channels by id, URLs masked.",
        goal="See where the application's alerts go.",
        context=CONTEXT,
        output=list[Channel],
        tags=TAGS,
        examples=(Example(key="none-yet", given=("application",), path={"id": "{applicationId}"}, output=[]),),
    )
)

GET = define(
    Operation(
        key="scheduler.channel.get",
        version="1.0.0",
        kind="query",
        method="GET",
        path=ONE,
        description="One alert channel, its URL masked.",
        goal="Check where an alert goes.",
        context=CONTEXT,
        output=Channel,
        tags=TAGS,
        examples=(Example(key="missing", given=("application",), path=MISSING, output=NOT_FOUND, status=404),),
    )
)

UPDATE = define(
    Operation(
        key="scheduler.channel.update",
        version="1.0.0",
        kind="command",
        method="PUT",
        path=ONE,
        description="Change a channel partially: each given field replaces; the masked URL sent back keeps it.",
        goal="Rename a channel, change its events, or move it to a new URL.",
        context=CONTEXT,
        input=ChannelUpdate,
        output=Channel,
        tags=TAGS,
        errors={
            400: "the URL is refused, or holds a mask that is not this channel's",
            409: "another channel of the application has that name, or other requests changed its channels on every "
            "attempt",
        },
        examples=(
            Example(
                key="missing",
                given=("application",),
                path=MISSING,
                input={"events": ["failing"]},
                output=NOT_FOUND,
                status=404,
            ),
        ),
    )
)

DELETE = define(
    Operation(
        key="scheduler.channel.delete",
        version="1.0.0",
        kind="command",
        method="DELETE",
        path=ONE,
        description="Delete a channel: no alert goes to it from now on.",
        goal="Stop alerts going somewhere.",
        context=CONTEXT,
        output=None,
        status=204,
        tags=TAGS,
        errors={409: "other requests changed the application's channels on every attempt; try again"},
        examples=(Example(key="missing", given=("application",), path=MISSING, output=NOT_FOUND, status=404),),
    )
)

TEST = define(
    Operation(
        key="scheduler.channel.test",
        version="1.0.0",
        kind="command",
        method="POST",
        path=ONE + "/test",
        description="Send a `test` alert now and answer what the receiver said.",
        goal="Check a channel works before an incident needs it.",
        context=CONTEXT + " 200 with the receiver's HTTP status, or `status: null` and the `error` (a refused or "
        "unreachable URL); the send is recorded among the channel's deliveries.",
        output=ChannelTestResult,
        tags=TAGS,
        examples=(Example(key="missing", given=("application",), path=MISSING, output=NOT_FOUND, status=404),),
    )
)

DELIVERIES = define(
    Operation(
        key="scheduler.channel.deliveries",
        version="1.0.0",
        kind="query",
        method="GET",
        path=ONE + "/deliveries",
        description="The channel's last 100 delivery attempts, newest first (test sends included).",
        goal="See whether alerts reached their receiver, and why not.",
        context=CONTEXT + " A failed delivery is retried with backoff (up to 5 attempts); each attempt is listed.",
        output=list[Delivery],
        tags=TAGS,
        examples=(Example(key="missing", given=("application",), path=MISSING, output=NOT_FOUND, status=404),),
    )
)
