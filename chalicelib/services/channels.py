"""An application's alert channels: who may manage them (members and admins; other tenants get 404), what a client
sees of them (the URL in the answer that created it only, then masked after its host), the URL guard (the rules a
job's target passes), test sends and the record of deliveries."""

from __future__ import annotations

from typing import Any

import httpx

from chalicelib.auth import Caller
from chalicelib.clock import iso, now_ms
from chalicelib.contracts.models import MASK, ChannelCreate, ChannelUpdate
from chalicelib.errors import Conflict, NotFound, UrlNotAllowed, ValidationError
from chalicelib.invoker import alerts, guard
from chalicelib.services import tenancy
from chalicelib.store import alerts as alert_store
from chalicelib.store import channels as channel_store
from chalicelib.store.channels import Channel
from chalicelib.store.keys import Contended
from chalicelib.views import alert_body


def masked(url: str) -> str:
    """The URL as every answer but the first shows it: scheme and host (and port), the rest masked."""
    parsed = httpx.URL(url)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}/{MASK}"


def to_api(channel: Channel, url: str | None = None) -> dict[str, Any]:
    return {"id": channel.id, "applicationId": channel.application_id, "name": channel.name, "type": channel.type,
            "url": url or channel.shown, "events": list(channel.events), "createdAt": iso(channel.created_at),
            "createdBy": channel.created_by, "updatedAt": iso(channel.updated_at),
            "updatedBy": channel.updated_by}  # fmt: skip


def _checked(url: str) -> str:
    """A channel URL passes the URL guard as a job's target does (a name that does not resolve yet is checked when
    an alert is sent, as every request is); 400 URL_NOT_ALLOWED naming `url` otherwise."""
    try:
        guard.check_url(url, must_resolve=False, method="POST")
    except guard.UrlRefused as exc:
        raise UrlNotAllowed.for_field("url", exc.reason) from exc
    return url


def list_visible(caller: Caller, application_id: int) -> list[Channel]:
    tenancy.visible_application(caller, application_id)
    return sorted(channel_store.all_of(application_id).values(), key=lambda channel: channel.id)


def get(caller: Caller, application_id: int, channel_id: int) -> Channel:
    tenancy.visible_application(caller, application_id)
    found = channel_store.all_of(application_id).get(channel_id)
    if found is None:
        raise NotFound(f"application {application_id} has no channel {channel_id}")
    return found


def create(caller: Caller, application_id: int, given: ChannelCreate) -> Channel:
    tenancy.visible_application(caller, application_id)
    url = _checked(given.url)
    try:
        return channel_store.create(application_id, given.name, given.type, url, tuple(given.events), masked(url),
                                    now_ms(), caller.user)  # fmt: skip
    except (channel_store.TooMany, channel_store.NameTaken, Contended) as exc:
        raise Conflict(str(exc)) from exc


def update(caller: Caller, application_id: int, channel_id: int, patch: ChannelUpdate) -> Channel:
    current = get(caller, application_id, channel_id)
    given = patch.model_dump(exclude_none=True)
    url = given.pop("url", None)
    if url == current.shown:
        url = None  # the masked form sent back: keep the stored URL
    elif url is not None and MASK in url:
        raise ValidationError.for_field("url", f"holds the mask {MASK} but is not this channel's masked URL: send "
                                        "the URL itself")  # fmt: skip
    changes = {key: tuple(value) if key == "events" else value for key, value in given.items()}
    if url is not None:
        changes["shown"] = masked(_checked(url))
    try:
        changed = channel_store.update(application_id, channel_id, changes, url, now_ms(), caller.user)
    except (channel_store.NameTaken, Contended) as exc:
        raise Conflict(str(exc)) from exc
    if changed is None:
        raise NotFound(f"application {application_id} has no channel {channel_id}")
    return changed


def delete(caller: Caller, application_id: int, channel_id: int) -> None:
    tenancy.visible_application(caller, application_id)
    try:
        deleted = channel_store.delete(application_id, channel_id)
    except Contended as exc:
        raise Conflict(str(exc)) from exc
    if not deleted:
        raise NotFound(f"application {application_id} has no channel {channel_id}")


def test(caller: Caller, application_id: int, channel_id: int) -> dict[str, Any]:
    """Send a `test` alert now; the receiver's status, or the error when no answer came."""
    channel = get(caller, application_id, channel_id)
    now = now_ms()
    body = alert_body("test", None, now, channel=channel.name)
    status, error = alerts.send_to(channel, f"alert_test_{channel.id}_{now}", body)
    return {"status": status, "error": error} if status is None else {"status": status}


def deliveries(caller: Caller, application_id: int, channel_id: int) -> list[dict[str, Any]]:
    get(caller, application_id, channel_id)
    shown = ("id", "type", "at", "status", "httpStatus", "error", "attempt")
    return [{key: entry.get(key) for key in shown} for entry in alert_store.deliveries(channel_id)]
