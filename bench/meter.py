"""Count every AWS request the process makes, and the DynamoDB capacity units each one costs.

Capacity is computed the way DynamoDB bills it, from the item images before and after each write (read
with a separate, uncounted client): base table ceil(max(before, after) / 1 KB) (a failed conditional write
bills the item as it stands); every GSI the item is in
before or after costs a put, a delete, or both when its key changes (KEYS_ONLY/INCLUDE entries are the
projected attributes plus 100 bytes of overhead). Reads: ceil(bytes / 4 KB), halved when eventually
consistent. moto does not compute capacity, so this is the only honest source here.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

import boto3
import botocore.client

WRITES = {"PutItem", "UpdateItem", "DeleteItem"}
GSI_OVERHEAD = 100


def value_size(value: dict[str, Any]) -> int:
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(raw.encode())
    if kind == "N":
        digits = Decimal(raw).normalize().as_tuple().digits
        return 1 + math.ceil(len(digits) / 2)
    if kind == "B":
        return len(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in raw.items())
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in raw)
    return sum(len(str(v)) for v in raw)  # sets


def item_size(item: dict[str, Any] | None) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in (item or {}).items())


class Meter:
    """`install()` patches botocore for the process (tests use `wrap` with monkeypatch); `snapshot()` and
    `since()` give the counts over an interval."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.units: defaultdict[str, float] = defaultdict(float)  # "WRU:table", "RRU:table" (reads in halves)
        self.ops: defaultdict[str, float] = defaultdict(float)  # "WRU:table:Operation", "RRU:table:Operation"
        self.sizes: defaultdict[str, list[int]] = defaultdict(list)  # "Operation:table": bytes billed per write
        self.tables: dict[str, dict[str, Any]] = {}
        self.raw = boto3.client("dynamodb")
        self.capacity = True
        self.latency_s = 0.0  # a simulated network round trip added to every request (moto answers in ~1 ms)

    def install(self) -> None:
        botocore.client.BaseClient._make_api_call = self.wrap(botocore.client.BaseClient._make_api_call)

    def wrap(self, original: Any) -> Any:
        meter = self

        def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
            if client is meter.raw:
                return original(client, operation, params)
            if meter.latency_s:
                time.sleep(meter.latency_s)
            service = client.meta.service_model.service_name
            before = meter._image(params) if service == "dynamodb" and operation in WRITES else None
            try:
                response = original(client, operation, params)
            except botocore.exceptions.ClientError:
                meter._count(service, operation, params, before, None, failed=True)
                raise
            meter._count(service, operation, params, before, response)
            return response

        return counted

    def write_units_total(self) -> float:
        return sum(v for k, v in self.units.items() if k.startswith("WRU"))

    def _schema(self, table: str) -> dict[str, Any]:
        if table not in self.tables:
            description = self.raw.describe_table(TableName=table)["Table"]
            keys = [k["AttributeName"] for k in description["KeySchema"]]
            indexes = []
            for index in description.get("GlobalSecondaryIndexes", []):
                projection = index["Projection"]
                index_keys = [k["AttributeName"] for k in index["KeySchema"]]
                extra = projection.get("NonKeyAttributes", []) if projection["ProjectionType"] == "INCLUDE" else []
                indexes.append((index["IndexName"], index_keys, projection["ProjectionType"], extra))
            self.tables[table] = {"keys": keys, "indexes": indexes}
        return self.tables[table]

    def _image(self, params: dict[str, Any]) -> dict[str, Any] | None:
        if not self.capacity:
            return None
        table = params["TableName"]
        schema = self._schema(table)
        key = params.get("Key") or {k: params["Item"][k] for k in schema["keys"]}
        return self.raw.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item") or {}

    def _count(self, service: str, operation: str, params: dict[str, Any], before: Any, response: Any,
               failed: bool = False) -> None:  # fmt: skip
        name = f"{service}.{operation}"
        units: defaultdict[str, float] = defaultdict(float)
        if service == "dynamodb":
            if operation in WRITES and before is not None:
                after = before if failed else (self._image(params) or {})
                units[f"WRU:{params['TableName']}"] += self.write_units(params["TableName"], before, after)
                with self.lock:
                    self.sizes[f"{operation}:{params['TableName']}"].append(max(item_size(before), item_size(after)))
            elif operation in ("GetItem", "Query", "BatchGetItem") and response is not None:
                units = self.read_units(operation, params, response)
        with self.lock:
            self.requests[name] += 1
            if name == "events.PutEvents" and not failed:  # EventBridge bills each entry, not the request
                self.requests["events.PutEventsEntries"] += len(params.get("Entries", []))
            for key, value in units.items():
                self.units[key] += value
                self.ops[f"{key}:{operation}"] += value

    def write_units(self, table: str, before: dict[str, Any], after: dict[str, Any]) -> int:
        schema = self._schema(table)
        total = max(1, math.ceil(max(item_size(before), item_size(after)) / 1024))
        for _, index_keys, projection, extra in schema["indexes"]:
            old, new = (self._entry(item, schema["keys"], index_keys, projection, extra) for item in (before, after))
            key_old = [before.get(k) for k in index_keys]
            key_new = [after.get(k) for k in index_keys]
            if old is None and new is None:
                continue
            if old is None or new is None:
                total += math.ceil((item_size(old or new) + GSI_OVERHEAD) / 1024)
            elif key_old != key_new:
                total += math.ceil((item_size(old) + GSI_OVERHEAD) / 1024) + math.ceil(
                    (item_size(new) + GSI_OVERHEAD) / 1024
                )
            elif old != new:
                total += math.ceil((item_size(new) + GSI_OVERHEAD) / 1024)
        return total

    @staticmethod
    def _entry(item: dict[str, Any], keys: list[str], index_keys: list[str], projection: str,
               extra: list[str]) -> dict[str, Any] | None:  # fmt: skip
        if not item or any(k not in item for k in index_keys):
            return None  # a sparse index holds only items with its key attributes
        if projection == "ALL":
            return dict(item)
        names = {*keys, *index_keys, *extra}
        return {k: v for k, v in item.items() if k in names}

    def read_units(self, operation: str, params: dict[str, Any], response: dict[str, Any]) -> defaultdict[str, float]:
        units: defaultdict[str, float] = defaultdict(float)
        if operation == "BatchGetItem":
            for table, items in response.get("Responses", {}).items():
                consistent = params["RequestItems"][table].get("ConsistentRead", False)
                units[f"RRU:{table}"] += sum(self._read(item_size(i), consistent) for i in items)
            return units
        items = [response["Item"]] if operation == "GetItem" and "Item" in response else response.get("Items", [])
        size = sum(item_size(i) for i in items) or 1
        units[f"RRU:{params['TableName']}"] += self._read(size, params.get("ConsistentRead", False))
        return units

    @staticmethod
    def _read(size: int, consistent: bool) -> float:
        blocks = max(1, math.ceil(size / 4096))
        return blocks if consistent else blocks / 2

    def snapshot(self) -> tuple[Counter[str], dict[str, float]]:
        """The requests so far, and the units so far by table and operation (`WRU:table:Operation`)."""
        with self.lock:
            return Counter(self.requests), dict(self.ops)

    def since(self, mark: tuple[Counter[str], dict[str, float]]) -> tuple[Counter[str], dict[str, float]]:
        requests, units = self.snapshot()
        grown = {key: value - mark[1].get(key, 0.0) for key, value in units.items()}
        return requests - mark[0], {key: value for key, value in grown.items() if value > 0}


def total(units: dict[str, float], kind: str, table: str | None = None) -> float:
    """The `kind` units (WRU or RRU) of counts from `since`, of one table (its short name) or of all."""
    return sum(v for k, v in units.items() if k.startswith(kind) and (table is None or table_of(k) == table))


def table_of(key: str) -> str:
    """`WRU:scheduler-dev-executions:PutItem` -> `executions`."""
    return key.split(":")[1].rsplit("-", 1)[-1]


def by_table(units: dict[str, float], kind: str, per: float = 1.0) -> dict[str, float]:
    found: defaultdict[str, float] = defaultdict(float)
    for key, value in units.items():
        if key.startswith(kind):
            found[table_of(key)] += value / max(per, 1e-9)
    return dict(sorted(found.items()))


def by_operation(units: dict[str, float], kind: str, per: float = 1.0) -> dict[str, float]:
    """`{"executions PutItem": 2.0, ...}`, per `per` runs."""
    found: defaultdict[str, float] = defaultdict(float)
    for key, value in units.items():
        if key.startswith(kind):
            found[f"{table_of(key)} {key.rsplit(':', 1)[1]}"] += value / max(per, 1e-9)
    return dict(sorted(found.items()))
