"""What alerts keep in the keys table. Nothing is written per run: only when a job changes state, and per delivery.

- `incident#{jobId}`: the job's open `failing` incident (`ref` = its `since` slot). Opened by a conditional put
  (attribute_not_exists) and closed by a conditional delete (`ref` = the since read), so however many runs end at
  once, or however often a message is redelivered, one incident sends one `failing` and one `recovered` alert.
  It expires after the execution retention (and a day): an incident older than the history it is derived from is
  forgotten, and alerts again.
- `late#{jobId}#{slot}`: a slot found late, claimed by a conditional put: one `late` alert per slot.
- `latewatch#{shard}`: the set of job ids with `alerts.lateAfterSeconds` (changed by atomic ADD/DELETE inside the
  job's own write transaction), so the tick checks those jobs only, with one BatchGetItem.
- `deliveries#{channelId}` (a counter) and `delivery#{channelId}#{n mod 100}`: each channel's last 100 delivery
  attempts as a ring, two small writes per attempt and one BatchGetItem to list them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError
from pynamodb.transactions import TransactWrite

from chalicelib.settings import get_settings
from chalicelib.store.keys import allocate_ids, delete, is_condition_failure, put, put_new
from chalicelib.store.models import KeyModel

WATCH_SHARDS = 4  # fixed: spreads the watched jobs over a few items (one set of ids each)
KEPT_DELIVERIES = 100


def _retention_seconds() -> int:
    return (get_settings().execution_retention_days + 1) * 86_400


# --- failing incidents -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Incident:
    job_id: int
    since: int  # the slot of the first failed run
    data: dict[str, Any]


def _incident_key(job_id: int) -> str:
    return f"incident#{job_id}"


def open_incident(job_id: int) -> Incident | None:
    """The job's open failing incident, or None (one strongly consistent GetItem)."""
    try:
        item = KeyModel.get(_incident_key(job_id), consistent_read=True)
    except DoesNotExist:
        return None
    return Incident(job_id, int(item.ref or 0), dict(item.data or {}))


def open_new(job_id: int, since: int, data: dict[str, Any]) -> bool:
    """Open the job's failing incident; False when one is open already (someone else alerts for it)."""
    item = KeyModel(_incident_key(job_id), ref=since, data=data, expiresAt=int(time.time()) + _retention_seconds())
    try:
        item.save(condition=KeyModel.key.does_not_exist())
    except PutError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def close(incident: Incident) -> bool:
    """Close the incident read; False when it was closed already (someone else sends its `recovered`)."""
    try:
        KeyModel(_incident_key(incident.job_id)).delete(condition=KeyModel.ref == incident.since)
    except DeleteError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


# --- late slots --------------------------------------------------------------------------------------------


def claim_late(job_id: int, slot: int) -> bool:
    """Claim the `late` alert of one slot; False when it was claimed already."""
    return put_new(f"late#{job_id}#{slot}", {}, _retention_seconds())


def release_late(job_id: int, slot: int) -> None:
    """Give a claimed slot back (its alert could not be queued): the next tick claims it again."""
    delete(f"late#{job_id}#{slot}")


def _watch_key(shard: int) -> str:
    return f"latewatch#{shard}"


def watch_in(tx: TransactWrite, job_id: int, watched: bool) -> None:
    """In a job's write: add it to, or remove it from, the jobs the tick checks for lateness."""
    ids = KeyModel.ids.add({job_id}) if watched else KeyModel.ids.delete({job_id})
    tx.update(KeyModel(_watch_key(job_id % WATCH_SHARDS)), actions=[ids])


def watched() -> set[int]:
    """Every job with `alerts.lateAfterSeconds` (one BatchGetItem)."""
    found: set[int] = set()
    for item in KeyModel.batch_get([_watch_key(shard) for shard in range(WATCH_SHARDS)]):
        found.update(int(job_id) for job_id in item.ids or ())
    return found


def unwatch(job_id: int) -> None:
    """Forget a job the tick found gone (its delete removes it too; this repairs a race)."""
    KeyModel(_watch_key(job_id % WATCH_SHARDS)).update(actions=[KeyModel.ids.delete({job_id})])


# --- deliveries --------------------------------------------------------------------------------------------


def record_delivery(channel_id: int, entry: dict[str, Any]) -> None:
    """Keep one delivery attempt among the channel's last KEPT_DELIVERIES (a counter, then its slot in the ring)."""
    number = allocate_ids(f"deliveries#{channel_id}")
    put(f"delivery#{channel_id}#{number % KEPT_DELIVERIES}", {**entry, "n": number}, _retention_seconds())


def deliveries(channel_id: int) -> list[dict[str, Any]]:
    """The channel's kept delivery attempts, newest first."""
    keys = [f"delivery#{channel_id}#{slot}" for slot in range(KEPT_DELIVERIES)]
    found = [dict(item.data or {}) for item in KeyModel.batch_get(keys)]
    return sorted(found, key=lambda entry: -int(entry.get("n", 0)))
