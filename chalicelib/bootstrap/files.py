"""Load and validate a bootstrap folder: `<root>/<application-name>/application.json`, `jobs.json` and
`variables.json` (`{"HOST": "crm.internal.example"}`: non-secret variables; secret ones come from the API or
from `VARIABLE_<APP>_<NAME>` in the bootstrap function's environment).

Every file is validated before anything is written; each problem names file, index, job and field, and a job
that refers to a variable neither the files, the environment nor the stored application has is one.
`{{GATEWAY_URL}}` in a job is replaced by the service's own public base URL (settings.GATEWAY_URL).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError as PydanticError

from chalicelib.contracts import json_values
from chalicelib.contracts.models import VARIABLE_NAME, ApplicationCreate, JobSpec, VariableInput
from chalicelib.contracts.validation import details_of
from chalicelib.errors import ApiError
from chalicelib.invoker.params import BUILT_INS
from chalicelib.services.jobs import check_spec
from chalicelib.settings import get_settings, secret_variables
from chalicelib.store import applications as app_store
from chalicelib.store import variables as variable_store


@dataclass
class Problem:
    file: str
    index: int | None
    name: str | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file + (f"[{self.index}]" if self.index is not None else "")
        job = f" ({self.name})" if self.name else ""
        return f"{where}{job} {self.field}: {self.message}"


@dataclass
class ApplicationFiles:
    name: str
    display_name: str
    jobs: list[JobSpec] = field(default_factory=list)
    variables: dict[str, tuple[str, bool]] = field(default_factory=dict)  # name → (value, secret)


def _read_json(path: Path, problems: list[Problem]) -> Any:
    try:
        return json_values.loads(path.read_text(encoding="utf-8"), max_depth=json_values.MAX_DEPTH + 4)
    except (OSError, ValueError) as exc:
        problems.append(Problem(str(path), None, None, "file", f"not readable JSON: {exc}"))
        return None


def _substitute(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("{{GATEWAY_URL}}", get_settings().gateway_url)
    if isinstance(value, dict):
        return {key: _substitute(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item) for item in value]
    return value


def _variables(path: Path, app: str, problems: list[Problem]) -> dict[str, tuple[str, bool]]:
    """variables.json (non-secret) and the environment's VARIABLE_<APP>_<NAME> (secret)."""
    found: dict[str, tuple[str, bool]] = {}
    raw = _read_json(path, problems) if path.exists() else {}
    if raw is None:
        return found
    if not isinstance(raw, dict):
        problems.append(Problem(str(path), None, None, "file", 'must be a JSON object: {"NAME": "value"}'))
        return found
    given = [(str(path), name, value, False) for name, value in raw.items()]
    given += [(f"environment VARIABLE_{app.upper().replace('-', '_')}_{name}", name, value, True)
              for name, value in secret_variables(app).items()]  # fmt: skip
    for source, name, value, secret in given:
        if not re.fullmatch(VARIABLE_NAME, name):
            problems.append(Problem(source, None, None, name, f"a variable name must match {VARIABLE_NAME}"))
        elif name in BUILT_INS:
            problems.append(Problem(source, None, None, name, "is built in and cannot be set"))
        elif isinstance(value, dict) and not secret:
            message = "must be a string; a secret is not kept in files: set it through the API or VARIABLE_<APP>_<NAME>"
            problems.append(Problem(source, None, None, name, message))
        else:
            try:
                VariableInput.model_validate({"value": value, "secret": secret})
            except PydanticError as exc:
                problems.extend(Problem(source, None, None, name, d["message"]) for d in details_of(exc))
                continue
            if name in found:
                problems.append(Problem(source, None, None, name, "is also in variables.json"))
                continue
            found[name] = (value, secret)
    return found


def _job(raw: Any, path: Path, index: int, problems: list[Problem], variables: set[str]) -> JobSpec | None:
    name = raw.get("name") if isinstance(raw, dict) else None
    if not isinstance(raw, dict):
        problems.append(Problem(str(path), index, None, "job", "must be a JSON object"))
        return None
    if "applicationId" in raw:
        problems.append(Problem(str(path), index, name, "applicationId", "not allowed: the folder names the app"))
        return None
    try:
        spec = JobSpec.model_validate({**_substitute(raw), "applicationId": 1})
        check_spec(spec, schedule_changed=True, variables=variables)
    except PydanticError as exc:
        problems.extend(Problem(str(path), index, name, d["field"], d["message"]) for d in details_of(exc))
        return None
    except ApiError as exc:
        problems.extend(Problem(str(path), index, name, d["field"], d["message"]) for d in exc.details)
        return None
    return spec


def load_application(folder: Path, problems: list[Problem]) -> ApplicationFiles | None:
    app_path, jobs_path = folder / "application.json", folder / "jobs.json"
    raw_app = _read_json(app_path, problems)
    if raw_app is None:
        return None
    try:
        app = ApplicationCreate.model_validate(raw_app)
    except PydanticError as exc:
        problems.extend(Problem(str(app_path), None, None, d["field"], d["message"]) for d in details_of(exc))
        return None
    if app.name != folder.name:
        problems.append(Problem(str(app_path), None, None, "name", f"must equal the folder name '{folder.name}'"))
    loaded = ApplicationFiles(app.name, app.displayName)
    loaded.variables = _variables(folder / "variables.json", app.name, problems)
    stored = app_store.find_by_name(app.name)
    known = set(loaded.variables) | (set(variable_store.all_of(stored.id)) if stored else set())
    raw_jobs = _read_json(jobs_path, problems) if jobs_path.exists() else []
    if raw_jobs is None:
        return loaded
    if not isinstance(raw_jobs, list):
        problems.append(Problem(str(jobs_path), None, None, "file", "must be a JSON array of jobs"))
        return loaded
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_jobs):
        spec = _job(raw, jobs_path, index, problems, known)
        if spec is None:
            continue
        if spec.name in seen:
            problems.append(Problem(str(jobs_path), index, spec.name, "name", f"duplicates job [{seen[spec.name]}]"))
            continue
        seen[spec.name] = index
        loaded.jobs.append(spec)
    return loaded


def load(root: Path, only: str | None = None) -> tuple[list[ApplicationFiles], list[Problem]]:
    """Every application folder under `root` (or just `only`), and every problem found in them."""
    problems: list[Problem] = []
    if not root.is_dir():
        return [], [Problem(str(root), None, None, "path", "is not a folder")]
    folders = sorted(p for p in root.iterdir() if p.is_dir() and (p / "application.json").exists())
    if only is not None:
        folders = [p for p in folders if p.name == only]
        if not folders:
            problems.append(Problem(str(root / only), None, None, "app", "no such application folder"))
    apps = [app for folder in folders if (app := load_application(folder, problems)) is not None]
    return apps, problems
