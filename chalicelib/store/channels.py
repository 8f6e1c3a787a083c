"""An application's alert channels: one keys-table item per application (`channels#{applicationId}`), so an alert
reads every channel it may go to with one GetItem, and a write is one conditional put of the whole set (its
version the condition: two writers never lose each other's change).

A channel's URL is a secret (a Slack incoming-webhook URL is its own credential): it is sealed with the
application's data key (the one its signing keys are sealed with, `signing_keys.seal`, the channel's id bound to
it), and only its masked form (`https://hooks.slack.com/********`) is kept in clear, for every answer but the one
that created it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from chalicelib.store import signing_keys
from chalicelib.store.keys import ATTEMPTS, Contended, allocate_ids, save_versioned
from chalicelib.store.keys import get as get_key
from chalicelib.store.models import KeyModel

MAX_PER_APPLICATION = 20


@dataclass(frozen=True)
class Channel:
    id: int
    application_id: int
    name: str
    type: str
    events: tuple[str, ...]
    shown: str  # the URL masked after its host
    sealed: str  # the URL, sealed with the application's data key
    created_at: int
    updated_at: int
    created_by: str | None = None
    updated_by: str | None = None

    def url(self) -> str:
        """The URL in clear (to send an alert to)."""
        return signing_keys.unseal(self.application_id, self.sealed, _label(self.id))


class TooMany(Exception):
    """The application already holds MAX_PER_APPLICATION channels."""


class NameTaken(Exception):
    """Another channel of the application has this name."""


def _key(application_id: int) -> str:
    return f"channels#{application_id}"


def _label(channel_id: int) -> str:
    return f"channel#{channel_id}"


def _from(application_id: int, channel_id: str, fields: dict[str, Any]) -> Channel:
    return Channel(int(channel_id), application_id, fields["name"], fields["type"], tuple(fields["events"]),
                   fields["shown"], fields["sealed"], int(fields["createdAt"]), int(fields["updatedAt"]),
                   fields.get("createdBy"), fields.get("updatedBy"))  # fmt: skip


def _read(application_id: int) -> tuple[dict[int, Channel], int | None]:
    item = get_key(_key(application_id))
    if item is None:
        return {}, None
    found = ((item.data or {}).get("channels") or {}).items()
    return {int(key): _from(application_id, key, fields) for key, fields in found}, int(item.value or 0)


def all_of(application_id: int) -> dict[int, Channel]:
    """The application's channels by id (one strongly consistent read)."""
    return _read(application_id)[0]


def _write(application_id: int, channels: dict[int, Channel], version: int | None) -> bool:
    data = {str(c.id): {"name": c.name, "type": c.type, "events": list(c.events), "shown": c.shown,
                        "sealed": c.sealed, "createdAt": c.created_at, "updatedAt": c.updated_at,
                        "createdBy": c.created_by, "updatedBy": c.updated_by} for c in channels.values()}  # fmt: skip
    return save_versioned(KeyModel(_key(application_id), data={"channels": data}), version)


def _check_name(channels: dict[int, Channel], name: str, channel_id: int | None) -> None:
    if any(other.name == name and other.id != channel_id for other in channels.values()):
        raise NameTaken(f"a channel named {name} already exists in this application")


def create(application_id: int, name: str, type_: str, url: str, events: tuple[str, ...], shown: str, now: int,
           actor: str | None) -> Channel:  # fmt: skip
    """Add a channel (its URL sealed); TooMany or NameTaken when it cannot be added."""
    channel_id = allocate_ids("channel")
    sealed = signing_keys.seal(application_id, url, _label(channel_id), now)
    channel = Channel(channel_id, application_id, name, type_, events, shown, sealed, now, now, actor, actor)
    for _ in range(ATTEMPTS):
        current, version = _read(application_id)
        if len(current) >= MAX_PER_APPLICATION:
            raise TooMany(f"an application holds at most {MAX_PER_APPLICATION} channels")
        _check_name(current, name, None)
        if _write(application_id, {**current, channel_id: channel}, version):
            return channel
    raise Contended(f"the channels of application {application_id}")


def update(application_id: int, channel_id: int, changes: dict[str, Any], url: str | None, now: int,
           actor: str | None) -> Channel | None:  # fmt: skip
    """Apply `changes` (name, type, events, shown) and a new URL when given; None when there is no such channel."""
    for _ in range(ATTEMPTS):
        current, version = _read(application_id)
        channel = current.get(channel_id)
        if channel is None:
            return None
        changed = replace(channel, **changes, updated_at=now, updated_by=actor)
        if url is not None:
            changed = replace(changed, sealed=signing_keys.seal(application_id, url, _label(channel_id), now))
        _check_name(current, changed.name, channel_id)
        if _write(application_id, {**current, channel_id: changed}, version):
            return changed
    raise Contended(f"the channels of application {application_id}")


def delete(application_id: int, channel_id: int) -> bool:
    """Remove a channel; False when there was none."""
    for _ in range(ATTEMPTS):
        current, version = _read(application_id)
        if channel_id not in current:
            return False
        if _write(application_id, {key: c for key, c in current.items() if key != channel_id}, version):
            return True
    raise Contended(f"the channels of application {application_id}")
