"""The snapshot: the embedded AWS's kept state at one point of the journal, in a JSON Lines file we control.

    {"format": "scheduler-local-state", "version": 1, "seq": N, "takenAt": ms, "clean": bool, "counts": {...}}
    {"kind": "item", "table": "...", "item": {DynamoDB JSON}}               one per item
    {"kind": "message", "queue": "...", "message": {...}}                    one per queued message
    {"kind": "rule", "bus": "...", "name": "...", "rule": {...}}            one per EventBridge rule
    {"kind": "end", "lines": L, "crc": "crc32 of every line before this one"}

JSON rather than a pickle of moto's objects: moto's classes change between its versions, and a pickle would tie the
data folder to one of them. The records are the AWS APIs' own shapes (DynamoDB JSON items, SQS message fields), which
moto takes back through its public model methods.

Written atomically: to `snapshot.jsonl.tmp`, fsync, rename over `snapshot.jsonl`, fsync the folder; a crash leaves
the old snapshot or the new one, never half of one. A snapshot of another format version, or one that is damaged
(no end line, a wrong count or checksum), is refused with a message naming the file, and left as it is.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT = "scheduler-local-state"
VERSION = 1
NAME = "snapshot.jsonl"
KINDS = frozenset({"item", "message", "rule"})


class SnapshotError(Exception):
    """The snapshot cannot be used as it is (another version, or damage); the message names the file."""


@dataclass
class Snapshot:
    header: dict[str, Any]
    lines: list[bytes]  # the records, each a JSON object on one line (parsed by the caller, one at a time)
    size: int

    @property
    def seq(self) -> int:
        return int(self.header["seq"])


def write_atomically(path: Path, header: dict[str, Any], lines: Iterable[str]) -> int:
    """Write a snapshot: the header, the record lines (JSON objects without their newline), the end line; returns
    its size in bytes. On any failure the file at `path` is the one that was there before."""
    tmp = path.with_name(path.name + ".tmp")
    crc, count, size = 0, 0, 0
    try:
        with tmp.open("wb", buffering=1 << 20) as sink:
            for text in _with_header(header, lines):
                data = text.encode() + b"\n"
                crc = zlib.crc32(data, crc)
                count += 1
                size += sink.write(data)
            size += sink.write(json.dumps({"kind": "end", "lines": count, "crc": f"{crc:08x}"}).encode() + b"\n")
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return size


def _with_header(header: dict[str, Any], lines: Iterable[str]) -> Iterable[str]:
    yield json.dumps({"format": FORMAT, "version": VERSION, **header}, separators=(",", ":"))
    yield from lines


def read(path: Path) -> Snapshot:
    """The snapshot at `path`, checked: its format and version, its end line, count and checksum."""
    data = path.read_bytes()
    lines = data.splitlines(keepends=True)
    try:
        header = json.loads(lines[0]) if lines else None
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise SnapshotError(f"{path} is not a snapshot of `make run`'s state (or its first line is damaged)")
    if header.get("version") != VERSION:
        raise SnapshotError(f"{path} was written in format version {header.get('version')} of `make run`'s state, "
                            f"and this scheduler reads version {VERSION}")  # fmt: skip
    try:
        end = json.loads(lines[-1])
    except ValueError:
        end = None
    body = lines[:-1]
    crc = 0
    for line in body:
        crc = zlib.crc32(line, crc)
    if (
        not isinstance(end, dict)
        or end.get("kind") != "end"
        or end.get("lines") != len(body)
        or (end.get("crc") != f"{crc:08x}")
    ):
        raise SnapshotError(f"{path} is damaged: its end line is missing or does not match its content")
    if not isinstance(header.get("seq"), int):
        raise SnapshotError(f"{path} is damaged: its header has no sequence number")
    return Snapshot(header, body[1:], len(data))
