"""Dynamic parameters: `${T:FMT}`, `${T-N:FMT}`, `${T+N:FMT}` (N days), resolved in the job's time zone
relative to the slot (or the trigger time of a manual run), so a retry resolves the same values.

FMT is built from the tokens YYYY, MM, DD, HH, mm, ss and the separators `- : T / . _` and space,
which covers the documented formats (YYYY-MM-DD, YYYY-MM-DDTHH:mm:ss, HH:mm:ss, YYYY, MM, DD).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from chalicelib.clock import from_ms

PLACEHOLDER = re.compile(r"\$\{([^{}]*)\}")
EXPRESSION = re.compile(r"^T(?:([+-])(\d{1,4}))?:(.+)$")
TOKENS = re.compile(r"YYYY|MM|DD|HH|mm|ss|[-:T/._ ]")
STRFTIME = {"YYYY": "%Y", "MM": "%m", "DD": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}
FIELDS = ("endpoint", "path", "url", "body", "headers")


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


def _render(text: str, moment: datetime | None) -> str:
    if "${" in text and text.count("${") != len(PLACEHOLDER.findall(text)):
        start = text.index("${")
        raise ParamError(text[start : start + 40], "malformed placeholder (write ${T:FORMAT}, ${T-N:FORMAT})")

    def replace(match: re.Match[str]) -> str:
        placeholder = match.group(0)
        parsed = EXPRESSION.match(match.group(1))
        if parsed is None:
            raise ParamError(placeholder, "unknown parameter (write ${T:FORMAT}, ${T-N:FORMAT}, ${T+N:FORMAT})")
        sign, days, fmt = parsed.groups()
        pattern = _format(fmt, placeholder)
        if moment is None:
            return placeholder
        offset = timedelta(days=int(days or 0)) * (-1 if sign == "-" else 1)
        return (moment + offset).strftime(pattern)

    return PLACEHOLDER.sub(replace, text)


def _walk(value: Any, moment: datetime | None, field: str) -> Any:
    try:
        if isinstance(value, str):
            return _render(value, moment)
    except ParamError as exc:
        exc.field = field
        raise
    if isinstance(value, dict):
        return {key: _walk(item, moment, f"{field}.{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [_walk(item, moment, f"{field}[{index}]") for index, item in enumerate(value)]
    return value


def resolve_task_config(config: dict[str, Any], at_ms: int, timezone: str) -> dict[str, Any]:
    """A copy of `config` with every placeholder in endpoint, path, url, body and headers resolved."""
    from chalicelib.cron import zone

    moment = from_ms(at_ms).astimezone(zone(timezone))
    resolved = dict(config)
    for name in FIELDS:
        if name in resolved:
            resolved[name] = _walk(resolved[name], moment, f"taskConfig.{name}")
    return resolved


def check_task_config(config: dict[str, Any]) -> None:
    """Create/update check: every placeholder is well formed; ParamError naming the field otherwise."""
    for name in FIELDS:
        if name in config:
            _walk(config[name], None, f"taskConfig.{name}")
