"""PynamoDB models of the four tables defined in infra/template.yaml. Only `store/` uses them; it hands out the
plain records of `records.py`."""

from __future__ import annotations

from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    NumberSetAttribute,
    UnicodeAttribute,
)
from pynamodb.connection import Connection
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.settings import get_settings

_settings = get_settings()


class TableMeta:
    """What every table's Meta shares; each model names its table."""

    region = _settings.region
    host = _settings.aws_endpoint_url
    max_retry_attempts = 3
    max_pool_connections = 32  # the tick and the invoker work in up to 16 threads
    connect_timeout_seconds = 5
    read_timeout_seconds = 10


class ApplicationModel(Model):
    class Meta(TableMeta):
        table_name = _settings.applications_table

    id = NumberAttribute(hash_key=True)
    name = UnicodeAttribute()
    displayName = UnicodeAttribute()
    createdAt = NumberAttribute()
    createdBy = UnicodeAttribute(null=True)


class JobsByApplication(GlobalSecondaryIndex["JobModel"]):
    class Meta:
        index_name = "by-application"
        projection = IncludeProjection(["name", "enabled"])  # never nextRunAt: the tick moves it

    applicationId = NumberAttribute(hash_key=True)
    id = NumberAttribute(range_key=True)


class JobsDue(GlobalSecondaryIndex["JobModel"]):
    """Sparse: only enabled jobs with a next slot carry dueShard. Keys only (the tick reads the jobs it finds), so
    moving a job's cursor costs the smallest index write whatever the job holds."""

    class Meta:
        index_name = "due-index"
        projection = KeysOnlyProjection()

    dueShard = NumberAttribute(hash_key=True)
    nextRunAt = NumberAttribute(range_key=True)


class JobModel(Model):
    """A job: its client-written fields as one compressed JSON document (`spec`, secrets in clear: masked only on
    the way out), the few copied out for indexes, and what the service derives. Times are epoch ms."""

    class Meta(TableMeta):
        table_name = _settings.jobs_table

    id = NumberAttribute(hash_key=True)
    applicationId = NumberAttribute()
    name = UnicodeAttribute()
    enabled = BooleanAttribute()
    spec = BinaryAttribute(legacy_encoding=False)  # zlib-compressed JSON of the JobSpec
    snapshot = UnicodeAttribute(null=True)
    createdAt = NumberAttribute()
    createdBy = UnicodeAttribute(null=True)
    updatedAt = NumberAttribute()
    updatedBy = UnicodeAttribute(null=True)
    version = NumberAttribute()
    nextRunAt = NumberAttribute(null=True)
    dueShard = NumberAttribute(null=True)
    completedAt = NumberAttribute(null=True)
    pausedUntil = NumberAttribute(null=True)
    pausedReason = UnicodeAttribute(null=True)
    pausedAt = NumberAttribute(null=True)

    by_application = JobsByApplication()
    due = JobsDue()


class ExecutionsByApplication(GlobalSecondaryIndex["ExecutionModel"]):
    class Meta:
        index_name = "by-application"
        projection = KeysOnlyProjection()

    appShard = NumberAttribute(hash_key=True)
    id = NumberAttribute(range_key=True)


class ExecutionModel(Model):
    """One run of a job at one slot (epoch ms). Put `running` by the invoker that claims it (or `pending` by a
    manual trigger), finished by the invoker. What a run produced (result, error, attempts) is one compressed
    document, `payload`: every run writes as few bytes, so as few write units, as it can."""

    class Meta(TableMeta):
        table_name = _settings.executions_table

    jobId = NumberAttribute(hash_key=True)
    slot = NumberAttribute(range_key=True)
    id = NumberAttribute()
    applicationId = NumberAttribute()
    appShard = NumberAttribute()  # applicationId * 1000 + id % APP_INDEX_SHARDS: the by-application index key
    status = UnicodeAttribute()
    trigger = UnicodeAttribute()
    attempt = NumberAttribute(default=0)
    createdAt = NumberAttribute()
    createdBy = UnicodeAttribute(null=True)
    startedAt = NumberAttribute(null=True)
    attemptStartedAt = NumberAttribute(null=True)
    finishedAt = NumberAttribute(null=True)
    durationMs = NumberAttribute(null=True)
    lagMs = NumberAttribute(null=True)
    missedSlots = NumberAttribute(null=True)
    dueAt = NumberAttribute(null=True)  # a pending retry: when its message becomes visible
    plannedAt = NumberAttribute(null=True)  # a jittered run: its slot plus the offset (absent: the slot)
    snapshot = UnicodeAttribute(null=True)
    payload = BinaryAttribute(null=True, legacy_encoding=False)
    expiresAt = NumberAttribute()

    by_application = ExecutionsByApplication()


class KeyModel(Model):
    """Claims and small records addressed by a string key: `appname#…`, `jobname#…`, `idem#…`, `counter#…`."""

    class Meta(TableMeta):
        table_name = _settings.keys_table

    key = UnicodeAttribute(hash_key=True)
    ref = NumberAttribute(null=True)
    value = NumberAttribute(null=True)
    data: JSONAttribute = JSONAttribute(null=True)
    expiresAt = NumberAttribute(null=True)
    ids = NumberSetAttribute(null=True)  # a set changed by atomic ADD/DELETE: the jobs the tick checks for lateness


ALL_MODELS: tuple[type[Model], ...] = (ApplicationModel, JobModel, ExecutionModel, KeyModel)


def reset_connections() -> None:
    """Drop cached clients so the next call binds to the current endpoint (tests start moto per test)."""
    global _CONNECTION
    _CONNECTION = None
    for model in ALL_MODELS:
        model._connection = None
        for index in (getattr(model, name) for name in dir(model)):
            if isinstance(index, GlobalSecondaryIndex):
                index._connection = None  # type: ignore[attr-defined]  # set on first use, not declared


_CONNECTION: Connection | None = None


def connection() -> Connection:
    """A shared low-level connection for transactions (building one costs a botocore client)."""
    global _CONNECTION
    if _CONNECTION is None:
        settings = get_settings()
        _CONNECTION = Connection(region=settings.region, host=settings.aws_endpoint_url)
    return _CONNECTION
