"""TICK_FANOUT: the tick sends one message per due-index shard and the invoker function dispatches each
shard, so the dispatching scales with the invoker's concurrency instead of one tick's minute."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from chalicelib.queue import ShardMessage, decode
from chalicelib.settings import get_settings
from tests.conftest import ONE_ATTEMPT, YEARLY


@pytest.fixture
def fanout(settings_env):
    settings_env.setenv("TICK_FANOUT", "1")


def test_a_fanned_out_tick_dispatches_through_shard_messages_once(api, engine, target, fanout):
    app_id = api.make_app()["id"]
    jobs = [api.make_job(app_id, name=f"j{i}", pattern=YEARLY, retryPolicy=ONE_ATTEMPT,
                         taskConfig={"endpoint": target.base, "path": f"/{i}"}) for i in range(12)]  # fmt: skip
    for job in jobs:
        engine.make_due(job["id"], in_ms=1_500)
    report = engine.tick()
    assert report.shard_messages == get_settings().due_shards and report.dispatched == 0
    shards = engine.receive()
    messages = [decode(r["body"]) for r in shards]
    assert all(isinstance(message, ShardMessage) for message in messages)
    assert sorted(m.shard for m in messages if isinstance(m, ShardMessage)) == list(range(get_settings().due_shards))

    assert engine.deliver(shards) == []  # the invoker dispatches each shard's due runs
    assert engine.deliver(shards) == []  # a second delivery of every shard message claims nothing new
    runs: list[dict[str, Any]] = []
    while len(runs) < 12:
        runs += engine.receive(wait=2)
    assert len(runs) == 12 and engine.deliver(runs) == []
    executions = Counter(len(engine.executions(job["id"])) for job in jobs)
    assert executions == {1: 12}
    assert all(engine.executions(job["id"])[0].status == "succeeded" for job in jobs)
    assert len(target.requests) == 12


def test_a_stale_shard_message_is_left_to_the_next_tick(api, engine, target, fanout):
    from chalicelib.clock import now_ms
    from chalicelib.engine.tick import tick_shard

    app_id = api.make_app()["id"]
    job = api.make_job(app_id, pattern=YEARLY, taskConfig={"endpoint": target.base})
    engine.make_due(job["id"], in_ms=1_000)
    shard = job["id"] % get_settings().due_shards
    stale = tick_shard(ShardMessage(shard, now_ms() - 61_000))
    assert stale.due_jobs == 0 and stale.dispatched == 0 and engine.executions(job["id"]) == []
    fresh = tick_shard(ShardMessage(shard, now_ms()))
    assert fresh.due_jobs == 1 and fresh.dispatched == 1
