"""Small records of the keys table (chalicelib/store/keys.py): id counters, claims made once, and the fixed-window
use counter behind the trigger limits."""

from __future__ import annotations

from chalicelib.store import keys
from chalicelib.store.models import KeyModel


def test_ids_are_allocated_consecutively_per_counter(aws):
    assert keys.allocate_ids("job") == 1
    assert keys.allocate_ids("job", 3) == 4  # 2, 3 and 4 reserved: the last one is returned
    assert keys.allocate_ids("job") == 5
    assert keys.allocate_ids("application") == 1  # each counter counts on its own


def test_put_new_creates_a_key_once_and_keeps_the_first_data(aws):
    assert keys.put_new("idem#k", {"hash": "first"}, ttl_seconds=60) is True
    assert keys.put_new("idem#k", {"hash": "second"}, ttl_seconds=60) is False
    assert keys.get("idem#k").data == {"hash": "first"}
    keys.delete("idem#k")
    assert keys.get("idem#k") is None
    assert keys.put_new("idem#k", {"hash": "third"}, ttl_seconds=60) is True  # a deleted key is free again


def test_take_counts_uses_up_to_the_limit_per_key(aws):
    assert [keys.take("limit#job#1", 3, ttl_seconds=60) for _ in range(5)] == [True, True, True, False, False]
    assert keys.get("limit#job#1").value == 3  # a refused use is not counted
    assert keys.take("limit#job#2", 3, ttl_seconds=60) is True  # another key has its own count


def test_refs_answers_only_the_keys_that_exist(aws):
    assert keys.refs([keys.job_name_key(1, "a")]) == {}
    KeyModel(keys.job_name_key(1, "a"), ref=42).save()
    keys.put("counter-like", {"x": 1}, ttl_seconds=60)  # a key without a ref
    asked = [keys.job_name_key(1, "a"), keys.job_name_key(1, "a"), keys.job_name_key(2, "a"), "counter-like"]
    assert keys.refs(asked) == {keys.job_name_key(1, "a"): 42}


def test_ids_allocated_at_the_same_time_are_all_different(aws):
    """DynamoDB's ADD is atomic and returns the counter as that write left it; the embedded AWS of `make run` and
    the tests must too (it once handed two concurrent creates the same id)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(16) as pool:
        ids = list(pool.map(lambda _: keys.allocate_ids("race"), range(400)))
    assert sorted(ids) == list(range(1, 401))
