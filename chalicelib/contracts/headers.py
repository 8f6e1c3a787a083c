"""HTTP header rules shared by the API models, masking and the invoker: what a header name and value may be,
which headers the scheduler sets itself, and which names carry a credential.

A value is checked against what the HTTP client can send (h11's field-value grammar, ASCII only): visible
characters with single inner spaces or tabs, so no CR, LF, NUL, DEL, other control characters, non-ASCII
text or leading/trailing white space ever reaches a request or an exception message.
"""

from __future__ import annotations

import re
import unicodedata

from chalicelib import signing

HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}")  # RFC 9110 token; always used with fullmatch
HEADER_VALUE = re.compile(r"(?:[\x21-\x7e]+(?:[ \t]+[\x21-\x7e]+)*)?")
TOKEN68 = re.compile(r"[\x21-\x7e]+")  # a bearer token: visible ASCII, no spaces
MAX_VALUE = 8192
FORBIDDEN_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "te", "upgrade",
                               "keep-alive", "proxy-connection", "trailer", "expect"})  # fmt: skip
# The run's identity, on every request so a target can deduplicate and log; with the `webhook-*` signature headers
# they are the scheduler's to set, never a job's.
JOB_ID_HEADER, EXECUTION_ID_HEADER = "X-Scheduler-Job-Id", "X-Scheduler-Execution-Id"
SCHEDULED_FOR_HEADER, ATTEMPT_HEADER = "X-Scheduler-Scheduled-For", "X-Scheduler-Attempt"
RUN_HEADERS = (JOB_ID_HEADER, EXECUTION_ID_HEADER, SCHEDULED_FOR_HEADER, ATTEMPT_HEADER)
RESERVED_HEADERS = frozenset(name.lower() for name in (*RUN_HEADERS, *signing.HEADERS))
# Any header whose name contains one of these carries a credential: masked on the way out, never sent to another
# origin on a redirect, dropped when a job's target moves to another origin.
CREDENTIAL_NAME = re.compile(
    r"auth|token|key|secret|pass|pwd|cookie|session|signature|jwt|bearer|otp|pin|csrf|cert|credential",
    re.IGNORECASE,
)


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a header name, or None."""
    if not HEADER_NAME.fullmatch(name):
        return "is not a valid header name (letters, digits and !#$%&'*+.^_`|~- only)"
    if name.lower() in FORBIDDEN_HEADERS:
        return "is set by the scheduler and cannot be configured"
    if name.lower() in RESERVED_HEADERS:
        return "is set by the scheduler on every request (the run's identity or its signature) and cannot be configured"
    return None


def value_problem(value: str) -> str | None:
    """Why `value` cannot be sent as a header value, or None. Never echoes the value."""
    if len(value) > MAX_VALUE:
        return f"must be at most {MAX_VALUE} characters"
    if not HEADER_VALUE.fullmatch(value):
        return (
            "must be printable ASCII on one line, without control characters (CR, LF, NUL, DEL…), non-ASCII "
            "characters, or leading/trailing spaces"
        )
    return None


def text_problem(value: str) -> str | None:
    """Why `value` (a user name or password, sent base64-encoded) is unsafe: control, format or line-separator
    characters. Never echoes the value."""
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs") for ch in value):
        return "must not contain control characters (CR, LF, NUL, DEL, U+2028…)"
    return None


def is_credential(name: str, secret_headers: frozenset[str] = frozenset()) -> bool:
    """Whether the header `name` carries a credential: by the broad name rule, or listed by the job."""
    return bool(CREDENTIAL_NAME.search(name)) or name.lower() in secret_headers
