"""Dynamic parameters: `${T:FMT}`, `${T-N:FMT}`, `${T+N:FMT}` (N days), resolved in the job's time zone
relative to the slot (or the trigger time of a manual run), so a retry resolves the same values; and
`${NAME}`, an application variable (or a built-in: GATEWAY_URL, JOB_NAME, APPLICATION), resolved first with
the application's current values. A variable's value is inserted as it is: it is not searched for more
placeholders, and the URL guard checks the URL after everything is resolved.

FMT is built from the tokens YYYY, MM, DD, HH, mm, ss and the separators `- : T / . _` and space,
which covers the documented formats (YYYY-MM-DD, YYYY-MM-DDTHH:mm:ss, HH:mm:ss, YYYY, MM, DD).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from chalicelib.clock import from_ms
from chalicelib.contracts.models import VARIABLE_FORM

PLACEHOLDER = re.compile(r"\$\{([^{}]*)\}")
EXPRESSION = re.compile(r"^T(?:([+-])(\d{1,4}))?:(.+)$")
TOKENS = re.compile(r"YYYY|MM|DD|HH|mm|ss|[-:T/._ ]")
STRFTIME = {"YYYY": "%Y", "MM": "%m", "DD": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}
VARIABLE = re.compile(VARIABLE_FORM)
BUILT_INS = ("GATEWAY_URL", "JOB_NAME", "APPLICATION")
FIELDS = ("endpoint", "path", "url", "body", "headers", "auth")


class ParamError(ValueError):
    """A placeholder that cannot be resolved; the message names it."""

    def __init__(self, placeholder: str, reason: str, field: str = "") -> None:
        super().__init__(f"{placeholder}: {reason}")
        self.placeholder = placeholder
        self.reason = reason
        self.field = field


def _format(fmt: str, placeholder: str) -> str:
    pieces = TOKENS.findall(fmt)
    if "".join(pieces) != fmt:
        raise ParamError(placeholder, f"unknown format '{fmt}' (use YYYY, MM, DD, HH, mm, ss)")
    return "".join(STRFTIME.get(piece, piece) for piece in pieces)


def _render(text: str, moment: datetime | None, variables: Mapping[str, str]) -> str:
    if "${" in text and text.count("${") != len(PLACEHOLDER.findall(text)):
        start = text.index("${")
        raise ParamError(text[start : start + 40], "malformed placeholder (write ${T:FORMAT}, ${T-N:FORMAT}, ${NAME})")

    def variable(match: re.Match[str]) -> str:
        placeholder, name = match.group(0), match.group(1)
        if not VARIABLE.fullmatch(name):
            return placeholder
        if name not in variables:
            raise ParamError(placeholder, f"unknown variable {name} (define it on the application)")
        return placeholder if moment is None else variables[name]

    def parameter(match: re.Match[str]) -> str:
        placeholder = match.group(0)
        if VARIABLE.fullmatch(match.group(1)):  # a variable: resolved already, or left as written when checking
            return placeholder
        parsed = EXPRESSION.match(match.group(1))
        if parsed is None:
            raise ParamError(
                placeholder, "unknown parameter (write ${T:FORMAT}, ${T-N:FORMAT}, ${T+N:FORMAT}, ${NAME})"
            )
        sign, days, fmt = parsed.groups()
        pattern = _format(fmt, placeholder)
        if moment is None:
            return placeholder
        offset = timedelta(days=int(days or 0)) * (-1 if sign == "-" else 1)
        return (moment + offset).strftime(pattern)

    # Variables first, then the time parameters of the text as written (not of the values inserted).
    pieces = PLACEHOLDER.split(text)  # text, name, text, name, ..., text
    out: list[str] = []
    for index, piece in enumerate(pieces):
        if index % 2 == 0:
            out.append(piece)
            continue
        match = PLACEHOLDER.fullmatch("${" + piece + "}")
        assert match is not None
        out.append(parameter(match) if not VARIABLE.fullmatch(piece) else variable(match))
    return "".join(out)


def references(value: Any) -> set[str]:
    """The variable names a configuration refers to (`${NAME}`), anywhere in it."""
    if isinstance(value, str):
        return {name for name in PLACEHOLDER.findall(value) if VARIABLE.fullmatch(name)}
    if isinstance(value, dict):
        return set().union(*(references(item) for item in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(references(item) for item in value)) if value else set()
    return set()


def _walk(value: Any, moment: datetime | None, field: str, variables: Mapping[str, str]) -> Any:
    try:
        if isinstance(value, str):
            return _render(value, moment, variables)
    except ParamError as exc:
        exc.field = field
        raise
    if isinstance(value, dict):
        return {key: _walk(item, moment, f"{field}.{key}", variables) for key, item in value.items()}
    if isinstance(value, list):
        return [_walk(item, moment, f"{field}[{index}]", variables) for index, item in enumerate(value)]
    return value


def resolve_task_config(config: dict[str, Any], at_ms: int, timezone: str,
                        variables: Mapping[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    """A copy of `config` with every placeholder in endpoint, path, url, body, headers and auth resolved: the
    variables with `variables` (ParamError naming one it lacks), then the time parameters."""
    from chalicelib.cron import zone

    moment = from_ms(at_ms).astimezone(zone(timezone))
    resolved = dict(config)
    for name in FIELDS:
        if name in resolved:
            resolved[name] = _walk(resolved[name], moment, f"taskConfig.{name}", variables or {})
    return resolved


def check_task_config(config: dict[str, Any], known: Iterable[str] = ()) -> None:
    """Create/update check: every placeholder is well formed and every variable is one of `known` (the
    application's and the built-ins); ParamError naming the field and the placeholder otherwise."""
    names = dict.fromkeys((*known, *BUILT_INS), "")
    for name in FIELDS:
        if name in config:
            _walk(config[name], None, f"taskConfig.{name}", names)
