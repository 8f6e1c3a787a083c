"""`make run`'s kept state in this process: each `life` is one run of the embedded AWS (a fresh moto with the stack's
resources), restored from the data folder the one before left: after a clean stop, and after a crash (a killed
process: no final snapshot, only the journal)."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from chalicelib.local import capture, durable, snapshot
from chalicelib.local.durable import Keeper, Restored, StateRefused
from chalicelib.local.infra import create_stack
from chalicelib.local.journal import journal_files
from chalicelib.local.lifecycle import port_in_use
from chalicelib.settings import get_settings
from tests.conftest import STACK_PREFIX, free_port, reset_caches

BLOB = b"\x00\xffbinary"
ITEM = {"key": {"S": "kept"}, "data": {"M": {"blob": {"B": BLOB}, "list": {"L": [{"N": "1.50"}, {"S": "x"}]}}},
        "blob": {"B": BLOB}, "names": {"SS": ["a", "b"]}, "value": {"N": "7"}}  # fmt: skip


@contextlib.contextmanager
def life(folder: Path, reset: bool = False) -> Iterator[tuple[Keeper, Restored]]:
    """One run of the embedded AWS on `folder`; the test ends it with `stop_cleanly` or `crash`."""
    with mock_aws():
        reset_caches()
        create_stack(prefix=STACK_PREFIX)
        keeper = Keeper(folder, DEFAULT_ACCOUNT_ID, get_settings().region)
        keeper.open(reset)
        try:
            yield keeper, keeper.restore()
        finally:
            capture.activate(None)
    reset_caches()


def stop_cleanly(keeper: Keeper) -> None:
    keeper.close()
    keeper.mark_stopped(0)
    keeper.detach()


def crash(keeper: Keeper) -> None:
    keeper.detach()


def keys_table() -> str:
    return get_settings().keys_table


def queue_url() -> str:
    return str(get_settings().invoker_queue_url or boto3.client("sqs").get_queue_url(
        QueueName=get_settings().invoker_queue_name)["QueueUrl"])  # fmt: skip


def held_messages() -> dict[str, tuple[str, float]]:
    """Every message of the invoker queue as moto holds it: id -> (body, when its delay ends)."""
    from moto.sqs.models import sqs_backends

    queue = sqs_backends[DEFAULT_ACCOUNT_ID][get_settings().region].queues[get_settings().invoker_queue_name]
    return {message.id: (message.body, message.delayed_until) for message in queue._messages}


def write_everything() -> dict[str, Any]:
    """Items (put, update, delete, a committed and a cancelled transaction), messages (delayed, deleted) and a rule
    with a target on the stack's bus; returns what should be there afterwards."""
    dynamodb, sqs, events = boto3.client("dynamodb"), boto3.client("sqs"), boto3.client("events")
    table = keys_table()
    dynamodb.put_item(TableName=table, Item=ITEM)
    dynamodb.put_item(TableName=table, Item={"key": {"S": "gone"}})
    dynamodb.delete_item(TableName=table, Key={"key": {"S": "gone"}})
    dynamodb.update_item(TableName=table, Key={"key": {"S": "counter"}}, UpdateExpression="ADD #v :one",
                         ExpressionAttributeNames={"#v": "value"},
                         ExpressionAttributeValues={":one": {"N": "1"}})  # fmt: skip
    dynamodb.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": {"key": {"S": f"tx{n}"}}}}
                                                 for n in (1, 2)])  # fmt: skip
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": {"key": {"S": "tx3"}}}},
            {"Put": {"TableName": table, "Item": {"key": {"S": "kept"}},
                     "ConditionExpression": "attribute_not_exists(#k)", "ExpressionAttributeNames": {"#k": "key"}}},
        ])  # fmt: skip
    url = queue_url()
    delayed = sqs.send_message(QueueUrl=url, MessageBody='{"later": true}', DelaySeconds=600)["MessageId"]
    sqs.send_message(QueueUrl=url, MessageBody='{"done": true}')
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"][0]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=received["ReceiptHandle"])
    bus = get_settings().event_bus_name
    events.put_rule(Name="tap", EventBusName=bus, EventPattern=json.dumps({"source": ["scheduler"]}))
    target = {"Id": "q", "Arn": "arn:aws:sqs:us-east-1:123456789012:tap"}
    events.put_targets(Rule="tap", EventBusName=bus, Targets=[target])
    return {"delayed": delayed, "messages": held_messages()}


def assert_everything_back(written: dict[str, Any]) -> None:
    dynamodb, events = boto3.client("dynamodb"), boto3.client("events")
    table = keys_table()
    kept = dynamodb.get_item(TableName=table, Key={"key": {"S": "kept"}}, ConsistentRead=True)["Item"]
    assert kept["blob"] == {"B": BLOB} and kept["data"]["M"]["blob"] == {"B": BLOB}
    assert kept["data"]["M"]["list"] == {"L": [{"N": "1.50"}, {"S": "x"}]} and sorted(kept["names"]["SS"]) == ["a", "b"]
    assert "Item" not in dynamodb.get_item(TableName=table, Key={"key": {"S": "gone"}})
    counter = dynamodb.get_item(TableName=table, Key={"key": {"S": "counter"}})["Item"]
    assert counter["value"] == {"N": "1"}
    assert all("Item" in dynamodb.get_item(TableName=table, Key={"key": {"S": f"tx{n}"}}) for n in (1, 2))
    assert "Item" not in dynamodb.get_item(TableName=table, Key={"key": {"S": "tx3"}})  # its transaction was cancelled
    assert held_messages() == written["messages"]  # the same messages, each delayed until the same moment
    assert written["messages"][written["delayed"]][0] == '{"later": true}'
    bus = get_settings().event_bus_name
    assert json.loads(events.describe_rule(Name="tap", EventBusName=bus)["EventPattern"]) == {"source": ["scheduler"]}
    assert [t["Id"] for t in events.list_targets_by_rule(Rule="tap", EventBusName=bus)["Targets"]] == ["q"]


def test_a_clean_stop_keeps_items_messages_and_rules(tmp_path):
    with life(tmp_path) as (keeper, restored):
        assert restored.empty
        written = write_everything()
        stop_cleanly(keeper)
    assert journal_files(tmp_path)[0].read_bytes().count(b"\n") == 1  # the final snapshot holds it all: a header only
    with life(tmp_path) as (keeper, restored):
        assert not restored.crashed and restored.journal_records == 0
        assert_everything_back(written)
        stop_cleanly(keeper)


def test_a_crash_loses_nothing_the_embedded_aws_acknowledged(tmp_path):
    with life(tmp_path) as (keeper, _):
        written = write_everything()
        crash(keeper)
    assert not (tmp_path / snapshot.NAME).exists()  # nothing but the journal
    with life(tmp_path) as (keeper, restored):
        assert restored.crashed and restored.journal_records > 0
        assert_everything_back(written)
        assert (tmp_path / snapshot.NAME).exists() and len(journal_files(tmp_path)) == 1  # folded in at start
        crash(keeper)
    with life(tmp_path) as (keeper, restored):
        assert restored.journal_records == 0
        assert_everything_back(written)
        stop_cleanly(keeper)


def test_a_snapshot_taken_while_running_and_the_journal_after_it_restore_together(tmp_path):
    with life(tmp_path) as (keeper, _):
        client = boto3.client("dynamodb")
        client.put_item(TableName=keys_table(), Item={"key": {"S": "before"}})
        written = keeper.write_snapshot(clean=False)
        client.put_item(TableName=keys_table(), Item={"key": {"S": "after"}})
        client.delete_item(TableName=keys_table(), Key={"key": {"S": "before"}})
        assert [path.name for path in journal_files(tmp_path)] == [f"journal-{written.seq + 1}.jsonl"]
        crash(keeper)
    with life(tmp_path) as (keeper, restored):
        assert restored.journal_records == 2
        client = boto3.client("dynamodb")
        assert "Item" in client.get_item(TableName=keys_table(), Key={"key": {"S": "after"}})
        assert "Item" not in client.get_item(TableName=keys_table(), Key={"key": {"S": "before"}})
        stop_cleanly(keeper)


def test_a_new_snapshot_is_due_when_the_journal_has_grown_to_half_the_last_one(tmp_path, monkeypatch):
    monkeypatch.setattr(durable, "COMPACT_MIN_BYTES", 0)

    def put(count: int, start: int = 0) -> None:
        client = boto3.client("dynamodb")
        for n in range(start, start + count):
            client.put_item(TableName=keys_table(), Item={"key": {"S": f"k{n}"}, "data": {"S": "x" * 200}})

    with life(tmp_path) as (keeper, _):
        put(40)
        written = keeper.write_snapshot(clean=False)
        assert not keeper.due()
        put(10, start=40)  # a quarter of the items again
        assert not keeper.due()
        put(15, start=50)
        assert keeper.due()
        stop_cleanly(keeper)
    with life(tmp_path) as (keeper, _):  # the snapshot it starts from is the measure
        assert keeper.snapshot_bytes == (tmp_path / snapshot.NAME).stat().st_size > written.bytes
        assert not keeper.due()
        stop_cleanly(keeper)


def test_a_journal_line_cut_off_by_a_crash_is_dropped_and_the_rest_restored(tmp_path):
    with life(tmp_path) as (keeper, _):
        boto3.client("dynamodb").put_item(TableName=keys_table(), Item={"key": {"S": "whole"}})
        crash(keeper)
    journal = journal_files(tmp_path)[-1]
    with journal.open("ab") as sink:
        sink.write(b'1234abcd {"seq": 99, "kind": "item", "tab')  # a write(2) the kill cut short
    with life(tmp_path) as (keeper, restored):
        assert restored.journal_records == 1
        assert "Item" in boto3.client("dynamodb").get_item(TableName=keys_table(), Key={"key": {"S": "whole"}})
        stop_cleanly(keeper)


def refused(folder: Path) -> str:
    """The message of a start refused on `folder`, checking that the start changed no file in it."""
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    with mock_aws(), pytest.raises(StateRefused) as refusal:
        Keeper(folder, DEFAULT_ACCOUNT_ID, "us-east-1").open(reset=False)
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before
    return str(refusal.value)


def a_folder_with_state(folder: Path) -> None:
    with life(folder) as (keeper, _):
        for name in ("one", "two", "three"):
            boto3.client("dynamodb").put_item(TableName=keys_table(), Item={"key": {"S": name}})
        keeper.write_snapshot(clean=False)
        boto3.client("dynamodb").put_item(TableName=keys_table(), Item={"key": {"S": "four"}})
        crash(keeper)


def test_a_damaged_journal_is_refused_and_kept(tmp_path):
    a_folder_with_state(tmp_path)
    journal = journal_files(tmp_path)[-1]
    with journal.open("ab") as sink:
        sink.write(b"0badc0de not json\n")
        sink.write(journal.read_bytes().splitlines(keepends=True)[1])  # a good line after the damage
    message = refused(tmp_path)
    assert str(journal) in message and "damaged" in message and "RESET=1" in message


def test_a_snapshot_of_another_format_version_is_refused_and_kept(tmp_path):
    a_folder_with_state(tmp_path)
    path = tmp_path / snapshot.NAME
    lines = path.read_bytes().splitlines(keepends=True)
    header = json.loads(lines[0])
    path.write_bytes(json.dumps({**header, "version": snapshot.VERSION + 1}).encode() + b"\n" + b"".join(lines[1:]))
    message = refused(tmp_path)
    assert f"format version {snapshot.VERSION + 1}" in message and f"reads version {snapshot.VERSION}" in message
    assert "left as it is" in message and "RESET=1" in message


def test_a_damaged_snapshot_is_refused_and_kept(tmp_path):
    a_folder_with_state(tmp_path)
    path = tmp_path / snapshot.NAME
    path.write_bytes(path.read_bytes()[:-40])  # its end line lost
    message = refused(tmp_path)
    assert str(path) in message and "damaged" in message


def test_a_snapshot_is_replaced_whole_or_not_at_all(tmp_path):
    path = tmp_path / snapshot.NAME
    snapshot.write_atomically(path, {"seq": 1}, ['{"kind": "item", "table": "t", "item": {}}'])
    before = path.read_bytes()

    def lines_then_failure() -> Iterator[str]:
        yield '{"kind": "item", "table": "t", "item": {"key": {"S": "new"}}}'
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        snapshot.write_atomically(path, {"seq": 2}, lines_then_failure())
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == [snapshot.NAME]
    assert snapshot.read(path).seq == 1


def test_reset_starts_empty_and_moves_the_state_aside(tmp_path):
    a_folder_with_state(tmp_path)
    kept = {path.name: path.read_bytes() for path in tmp_path.iterdir() if path.name != "stack.lock"}
    with life(tmp_path, reset=True) as (keeper, restored):
        assert restored.empty and restored.reset_to == tmp_path / "previous"
        assert "Item" not in boto3.client("dynamodb").get_item(TableName=keys_table(), Key={"key": {"S": "one"}})
        stop_cleanly(keeper)
    assert {path.name: path.read_bytes() for path in (tmp_path / "previous").iterdir()} == kept


def test_a_second_stack_on_the_same_folder_is_refused_naming_the_first(tmp_path):
    with life(tmp_path) as (keeper, _):
        with pytest.raises(StateRefused, match=f"in use by pid {os.getpid()}"):
            Keeper(tmp_path, DEFAULT_ACCOUNT_ID, "us-east-1").open(reset=False)
        stop_cleanly(keeper)


def test_a_port_in_use_is_reported_with_the_process_that_holds_it():
    import socket

    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen(1)
        message = port_in_use("PORT", port, "set PORT")
    assert message.startswith(f"PORT {port} is in use by pid {os.getpid()} (") and message.endswith("; set PORT")
