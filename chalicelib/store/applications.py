"""Applications: an item per application plus a claim on its unique name."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.clock import now_ms
from chalicelib.store import keys, signing_keys
from chalicelib.store.models import ApplicationModel, KeyModel, connection
from chalicelib.store.records import Application


class NameTaken(Exception):
    """Another application already has this name."""


def _record(item: ApplicationModel) -> Application:
    return Application(int(item.id), item.name, item.displayName, int(item.createdAt), item.createdBy)


def create(name: str, display_name: str, created_by: str | None) -> tuple[Application, signing_keys.Created]:
    """The application, with its first signing key (whose secret its creator is shown once) in the same write."""
    now = now_ms()
    app = ApplicationModel(
        keys.allocate_ids("application"), name=name, displayName=display_name, createdAt=now, createdBy=created_by
    )
    signing, first_key = signing_keys.first_set(int(app.id), now, created_by)
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.save(KeyModel(keys.app_name_key(name), ref=app.id), condition=KeyModel.key.does_not_exist())
            tx.save(app, condition=ApplicationModel.id.does_not_exist())
            tx.save(signing.item(), condition=signing.condition())
    except TransactWriteError as exc:
        raise NameTaken(name) from exc
    return _record(app), first_key


def get(application_id: int) -> Application | None:
    try:
        return _record(ApplicationModel.get(application_id))
    except DoesNotExist:
        return None


def get_many(ids: set[int]) -> dict[int, Application]:
    if not ids:
        return {}
    return {int(app.id): _record(app) for app in ApplicationModel.batch_get(list(ids))}


def all_applications() -> list[Application]:
    """Every application, by id. Applications are few (tenants), so a scan is the right tool here."""
    return sorted((_record(app) for app in ApplicationModel.scan()), key=lambda app: app.id)


def ids_for_names(names: frozenset[str]) -> list[int]:
    found = keys.refs([keys.app_name_key(name) for name in names])
    return sorted(found.values())


def find_by_name(name: str) -> Application | None:
    ids = ids_for_names(frozenset([name]))
    return get(ids[0]) if ids else None


def reachable() -> bool:
    """Whether the store answers (the health check)."""
    try:
        ApplicationModel.describe_table()
    except Exception:  # noqa: BLE001 - any failure means not reachable
        return False
    return True
