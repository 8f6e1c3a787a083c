"""Execution ids: JS-safe integers that grow with time and need no shared counter."""

from __future__ import annotations

import secrets

from chalicelib.clock import now_ms

EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z; 41 bits of ms after it last until 2093
RANDOM_BITS = 12
MAX_SAFE_INTEGER = 2**53 - 1


def execution_id(at_ms: int | None = None) -> int:
    """`(ms since 2024) << 12 | 12 random bits`: ordered by creation time, below 2**53."""
    ms = (at_ms if at_ms is not None else now_ms()) - EPOCH_MS
    return (ms << RANDOM_BITS) | secrets.randbits(RANDOM_BITS)


def slot_of(execution_id_: int) -> int:
    """The millisecond an execution id was made for (its slot): ids sort like their slots."""
    return (execution_id_ >> RANDOM_BITS) + EPOCH_MS
