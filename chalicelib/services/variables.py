"""An application's variables: who may manage them, what a client sees of them (secret values never), and the
rule that a variable a job still uses cannot be deleted."""

from __future__ import annotations

from typing import Any

from chalicelib.auth import Caller
from chalicelib.clock import iso, now_ms
from chalicelib.contracts.models import MASK, VariableInput
from chalicelib.errors import Conflict, NotFound, ValidationError
from chalicelib.invoker import params
from chalicelib.services import tenancy
from chalicelib.store import jobs as job_store
from chalicelib.store import variables as variable_store
from chalicelib.store.keys import Contended
from chalicelib.store.variables import Variable


def to_api(variable: Variable) -> dict[str, Any]:
    return {
        "name": variable.name,
        "value": MASK if variable.secret else variable.value,
        "secret": variable.secret,
        "updatedAt": iso(variable.updated_at),
        "updatedBy": variable.updated_by,
    }


def list_visible(caller: Caller, application_id: int) -> list[Variable]:
    tenancy.visible_application(caller, application_id)
    return sorted(variable_store.all_of(application_id).values(), key=lambda variable: variable.name)


def get(caller: Caller, application_id: int, name: str) -> Variable:
    tenancy.visible_application(caller, application_id)
    found = variable_store.all_of(application_id).get(name)
    if found is None:
        raise NotFound(f"application {application_id} has no variable {name}")
    return found


def put(caller: Caller, application_id: int, name: str, given: VariableInput) -> Variable:
    tenancy.visible_application(caller, application_id)
    if name in params.BUILT_INS:
        raise ValidationError.for_field("name", f"{name} is built in and cannot be set")
    variable = Variable(name, given.value, given.secret, now_ms(), caller.user)
    try:
        variable_store.put(application_id, variable)
    except (variable_store.TooMany, Contended) as exc:
        raise Conflict(str(exc)) from exc
    return variable


def users(application_id: int, name: str) -> list[str]:
    """Names of the application's jobs that refer to `${name}`."""
    return sorted(job.name for job in job_store.all_of_application(application_id)
                  if name in params.references(job.task_config))  # fmt: skip


def delete(caller: Caller, application_id: int, name: str) -> None:
    tenancy.visible_application(caller, application_id)
    if name not in variable_store.all_of(application_id):
        raise NotFound(f"application {application_id} has no variable {name}")
    using = users(application_id, name)
    if using:
        raise Conflict(f"variable {name} is used by {len(using)} job(s): {', '.join(using[:20])}")
    try:
        variable_store.delete(application_id, name)
    except Contended as exc:
        raise Conflict(str(exc)) from exc
