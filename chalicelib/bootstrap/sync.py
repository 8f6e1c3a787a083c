"""Sync applications and jobs from bootstrap files, row by row as the spec's lifecycle table says:

| job in file | in store                                         | action                         |
|-------------|--------------------------------------------------|--------------------------------|
| yes         | no                                               | create                         |
| yes         | createdBy = updatedBy = scopedTo, same content   | unchanged (nothing written)    |
| yes         | createdBy = updatedBy = scopedTo, other content  | update                         |
| yes         | createdBy = scopedTo, updatedBy differs          | skip-modified (WARNING logged) |
| yes         | createdBy is another source                      | skip-foreign (debug log)       |
| no          | createdBy = updatedBy = scopedTo                 | delete                         |
| no          | anything else                                    | leave                          |

Variables (`variables.json`, and secret ones from `VARIABLE_<APP>_<NAME>`) follow the same rows, compared by
value and secrecy; they are written before the jobs that use them, and deleted after the jobs that used them
(a variable a job outside the files still uses is left: `skip-in-use`, with a WARNING).

Every write is conditional on the state read (version, name claim, the variable as read); a job or variable
changed concurrently through the API is reported as `skip-changed` and not overwritten.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chalicelib.bootstrap import SCOPE_PREFIX
from chalicelib.bootstrap.files import ApplicationFiles, Problem, load
from chalicelib.clock import now_ms
from chalicelib.contracts.models import JobSpec
from chalicelib.services import jobs as job_service
from chalicelib.services.variables import users as job_service_users
from chalicelib.store import applications as app_store
from chalicelib.store import jobs as job_store
from chalicelib.store import variables as variable_store
from chalicelib.store.records import Application, Job
from chalicelib.store.variables import Variable

log = logging.getLogger(__name__)


@dataclass
class Step:
    application: str
    job: str | None
    action: str
    detail: str = ""


@dataclass
class VariableStep:
    application: str
    variable: str
    action: str
    detail: str = ""


@dataclass
class Report:
    dry_run: bool
    steps: list[Step] = field(default_factory=list)
    variables: list[VariableStep] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    writes: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "dryRun": self.dry_run,
            "plan": [asdict(step) for step in self.steps],
            "variables": [asdict(step) for step in self.variables],
            "warnings": self.warnings,
            "errors": self.errors,
            "writes": self.writes,
        }


def _lifecycle(created_by: str | None, updated_by: str | None, in_files: bool, same: Callable[[], bool],
               scope: str, gone: str) -> tuple[str, str]:  # fmt: skip
    """The table's rows for something stored (a job or a variable): whether it is still in the files, and
    whether the files say the same as the store."""
    if not in_files:
        owned = created_by == scope and updated_by == scope
        return ("delete", gone) if owned else ("leave", f"owned by {updated_by}")
    if created_by != scope:
        return "skip-foreign", f"created by {created_by}"
    if updated_by != scope:
        return "skip-modified", f"manually modified by {updated_by}"
    return ("unchanged", "") if same() else ("update", "")


def _decide(job: Job | None, spec: JobSpec | None, scope: str) -> tuple[str, str]:
    if job is None:
        return "create", ""
    same = lambda: spec is not None and job_service.spec_matches(job, spec)  # noqa: E731
    return _lifecycle(job.created_by, job.updated_by, spec is not None, same, scope, "no longer in jobs.json")


def _decide_variable(stored: Variable | None, wanted: tuple[str, bool] | None, scope: str) -> tuple[str, str]:
    if stored is None:
        return ("create", "secret" if wanted and wanted[1] else "") if wanted else ("leave", "")
    same = lambda: (stored.value, stored.secret) == wanted  # noqa: E731
    return _lifecycle(stored.created_by, stored.updated_by, wanted is not None, same, scope, "no longer in the files")


class Sync:
    def __init__(self, scope_prefix: str = SCOPE_PREFIX, dry_run: bool = False) -> None:
        self.scope_prefix = scope_prefix
        self.report = Report(dry_run=dry_run)

    def _application(self, files: ApplicationFiles, scope: str) -> Application | None:
        app = app_store.find_by_name(files.name)
        if app is not None:
            return app
        self.report.steps.append(Step(files.name, None, "create-application", files.display_name))
        if self.report.dry_run:
            return None
        try:
            app, _ = app_store.create(files.name, files.display_name, scope)  # its owner creates a key to learn one
        except app_store.NameTaken:
            app = app_store.find_by_name(files.name)
        self.report.writes += 1
        return app

    def _apply(self, app: Application, action: str, job: Job | None, spec: JobSpec | None,
               scope: str) -> str:  # fmt: skip
        """Carry out one write; returns the action taken (a lost race becomes skip-changed)."""
        try:
            if action == "create" and spec is not None:
                job_service.create_as(scope, app, spec.model_copy(update={"applicationId": app.id}))
            elif action == "update" and spec is not None and job is not None:
                job_service.replace(scope, job, app, spec.model_copy(update={"applicationId": app.id}))
            elif action == "delete" and job is not None and not job_service.remove(job, app):
                return "skip-changed"
        except (job_store.NameTaken, job_store.StaleVersion):
            return "skip-changed"
        self.report.writes += 1
        return action

    def _variables(self, app: Application | None, files: ApplicationFiles, scope: str, deletes: bool) -> None:
        """The writes and deletes of variables (`deletes`: the deletions, after the jobs; else the rest)."""
        stored = variable_store.all_of(app.id) if app else {}
        for name in sorted(set(files.variables) | set(stored)):
            current, wanted = stored.get(name), files.variables.get(name)
            action, detail = _decide_variable(current, wanted, scope)
            if (action == "delete") != deletes:
                continue
            if action == "delete" and app is not None and (using := job_service_users(app.id, name)):
                action, detail = "skip-in-use", f"used by {', '.join(using[:5])}"
            if action in ("skip-modified", "skip-in-use"):
                message = f"variable {name} of {files.name}: {detail}; skipped"
                log.warning(message)
                self.report.warnings.append(message)
            if action in ("create", "update", "delete") and not self.report.dry_run and app is not None:
                action = self._apply_variable(app, action, name, current, wanted, scope)
                if action == "skip-changed":
                    detail = "changed concurrently; not overwritten"
                    self.report.warnings.append(f"variable {name} of {files.name} changed during the sync; skipped")
            self.report.variables.append(VariableStep(files.name, name, action, detail))

    def _apply_variable(self, app: Application, action: str, name: str, current: Variable | None,
                        wanted: tuple[str, bool] | None, scope: str) -> str:  # fmt: skip
        if action == "delete":
            done = variable_store.delete(app.id, name, expected=current)
        else:
            assert wanted is not None
            variable = Variable(name, wanted[0], wanted[1], now_ms(), scope)
            try:
                done = variable_store.put(app.id, variable, expected=current, check=True) or action == "update"
            except variable_store.TooMany:
                return "skip-full"
        if not done:
            return "skip-changed"
        self.report.writes += 1
        return action

    def application(self, files: ApplicationFiles) -> None:
        scope = f"{self.scope_prefix}{files.name}"
        app = self._application(files, scope)
        self._variables(app, files, scope, deletes=False)
        self._jobs(app, files, scope)
        self._variables(app, files, scope, deletes=True)

    def _jobs(self, app: Application | None, files: ApplicationFiles, scope: str) -> None:
        stored = {job.name: job for job in job_store.all_of_application(app.id)} if app else {}
        wanted = {spec.name: spec for spec in files.jobs}
        for name in [*wanted, *sorted(set(stored) - set(wanted))]:
            job, spec = stored.get(name), wanted.get(name)
            action, detail = _decide(job, spec, scope)
            if action == "skip-modified":
                message = (
                    f"job '{name}' of {files.name} was manually modified by {job.updated_by if job else '?'}; skipped"
                )
                log.warning(message)
                self.report.warnings.append(message)
            elif action == "skip-foreign":
                log.debug("job '%s' of %s was created by %s; skipped", name, files.name, detail)
            if action in ("create", "update", "delete") and not self.report.dry_run and app is not None:
                taken = self._apply(app, action, job, spec, scope)
                if taken == "skip-changed":
                    detail = "changed concurrently; not overwritten"
                    self.report.warnings.append(f"job '{name}' of {files.name} changed during the sync; skipped")
                action = taken
            self.report.steps.append(Step(files.name, name, action, detail))


def run(root: Path, only: str | None = None, dry_run: bool = False, scope_prefix: str = SCOPE_PREFIX) -> Report:
    """Validate the whole folder, then (if valid) sync every application in it."""
    apps, problems = load(root, only)
    sync = Sync(scope_prefix, dry_run)
    if problems:
        sync.report.errors = [str(problem) for problem in problems]
        return sync.report
    for files in apps:
        sync.application(files)
    return sync.report


__all__ = ["Problem", "Report", "Step", "run"]
