"""A job's success criteria (`taskConfig.expect`): the statuses that count as success, a text the kept body must
contain, and a JSON value an RFC 6901 pointer must find. An answer that misses one fails its run with
UNEXPECTED_RESPONSE and a message naming the criterion; the message quotes nothing the run's record does not
already keep (a value found is shown only when the whole answer is kept and it is short)."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.contracts import json_values
from chalicelib.invoker.http import Response

DEFAULT_STATUS: list[int | str] = ["2xx"]
MAX_QUOTED = 64
_MISSING = object()


def miss(expect: dict[str, Any], response: Response, kept: int) -> str | None:
    """Why `response` is not what `expect` asks for, or None. `kept` is how many characters of the body a
    run's record keeps (what `bodyContains` searches)."""
    wanted = expect.get("status") or DEFAULT_STATUS
    if not any(_status_matches(response.status, match) for match in wanted):
        return f"the target answered HTTP {response.status}, not one of {', '.join(str(m) for m in wanted)}"
    text = expect.get("bodyContains")
    if text is not None and text not in response.text[:kept]:
        return f"the answer's body (its first {kept} characters, as kept) does not contain the expected text"
    rule = expect.get("json")
    if rule is not None:
        return _json_miss(rule["pointer"], rule.get("equals"), response, kept)
    return None


def _status_matches(status: int, match: int | str) -> bool:
    if isinstance(match, str):
        return f"{status // 100}xx" == match
    return status == match


def _json_miss(pointer: str, equals: Any, response: Response, kept: int) -> str | None:
    if response.truncated:
        return f"the answer is too large to read as JSON, so {pointer or 'its root'} cannot be checked"
    try:
        document = json_values.loads(response.text)
    except json_values.JsonProblem:
        return f"the answer is not JSON, so {pointer or 'its root'} cannot be checked"
    found = resolve(document, pointer)
    if found is _MISSING:
        return f"the answer has no value at {pointer}"
    if same(found, equals):
        return None
    quoted = json.dumps(found, ensure_ascii=False)
    shown = f" (it is {quoted})" if len(quoted) <= MAX_QUOTED and len(response.text) <= kept else ""
    return f"the answer's value at {pointer or 'its root'} is not {json.dumps(equals)[:MAX_QUOTED]}{shown}"


def resolve(document: Any, pointer: str) -> Any:
    """The value `pointer` (RFC 6901) finds in `document`, or _MISSING."""
    if pointer == "":
        return document
    current = document
    for raw in pointer.split("/")[1:]:
        step = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(current, dict):
            if step not in current:
                return _MISSING
            current = current[step]
        elif isinstance(current, list):
            if not step.isdigit() or (step != "0" and step.startswith("0")) or int(step) >= len(current):
                return _MISSING
            current = current[int(step)]
        else:
            return _MISSING
    return current


def same(left: Any, right: Any) -> bool:
    """JSON equality: `true` is not `1`, `1` is `1.0`, objects compare by keys, arrays in order."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same(left[key], right[key]) for key in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    return type(left) is type(right) and left == right
