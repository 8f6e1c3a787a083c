"""JSON as RFC 8259 defines it, and no deeper than the service stores: the one reader of client JSON (API
bodies, bootstrap files) and the check of JSON values the service keeps (job bodies, target answers).

Python's `json` accepts `NaN`, `Infinity` and `-Infinity`, which are not JSON: stored, they later make the
service emit non-standard JSON and crash a run. A value nested very deeply overflows the recursion of every
reader after this one. Both are refused here, naming where in the document they are.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 32


class JsonProblem(ValueError):
    """The document is not acceptable JSON; `path` says where (`taskConfig.body.items[2]`), `""` for the whole."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


class _NonFinite:
    """What `NaN`, `Infinity` or `-Infinity` parse to here, so that the check can say where they stood."""

    def __init__(self, text: str) -> None:
        self.text = text


def loads(raw: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """Parse strict JSON: JsonProblem for invalid text, non-finite numbers, or nesting beyond `max_depth`."""
    try:
        value = json.loads(raw, parse_constant=_NonFinite)
    except RecursionError as exc:
        raise JsonProblem("", f"nested deeper than {max_depth} levels") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise JsonProblem("", f"not valid JSON: {exc}") from exc
    check(value, max_depth)
    return value


def check(value: Any, max_depth: int = MAX_DEPTH, path: str = "") -> None:
    """Refuse non-finite numbers and nesting beyond `max_depth` in an already parsed value (iteratively, so a
    deep value cannot overflow this check either)."""
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, _NonFinite) or (isinstance(item, float) and not math.isfinite(item)):
            raise JsonProblem(where, "NaN, Infinity and -Infinity are not JSON numbers")
        if isinstance(item, dict | list):
            if depth >= max_depth:
                raise JsonProblem(where, f"nested deeper than {max_depth} levels")
            children = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in children:
                child_path = f"{where}[{key}]" if isinstance(item, list) else (f"{where}.{key}" if where else str(key))
                stack.append((child, child_path, depth + 1))


def dumps(value: Any) -> str:
    """Standard JSON out: a non-finite number is a bug here, never text a client has to parse."""
    return json.dumps(value, allow_nan=False)
