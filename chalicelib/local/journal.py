"""The journal: every change `make run` keeps, appended in the order moto applied it, one line each.

A line is `<crc32 of the JSON, 8 hex digits> <JSON>`; the first line of a file is its header (format, version, and
the sequence number its records follow). Files are `journal-<first seq>.jsonl`; a snapshot at sequence N makes
every file whose records are all <= N obsolete.

Appends happen under the embedded AWS's write lock (chalicelib/local/atomic.py), so the journal's order is the order
of the writes. `sync()` makes everything appended so far durable (fsync); callers that answer a client call it after
releasing the lock, so concurrent writers share one fsync (group commit).

Reading: a line cut off by a crash can only be the last one written; it was never acknowledged and is dropped. A bad
line followed by good ones, or a gap in the sequence, is damage: the journal is refused and left as it is.
"""

from __future__ import annotations

import json
import os
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT = "scheduler-local-journal"
VERSION = 1
PREFIX, SUFFIX = "journal-", ".jsonl"


class JournalError(Exception):
    """The journal cannot be read as it is: another format version, or damage. The message says which file."""


def encode(record: dict[str, Any] | str) -> bytes:
    """One journal line for a record (or its JSON text, already made)."""
    text = record if isinstance(record, str) else json.dumps(record, separators=(",", ":"))
    data = text.encode()
    return b"%08x %s\n" % (zlib.crc32(data), data)


def decode(line: bytes) -> dict[str, Any] | None:
    """The record of a journal line, or None when the line is damaged or cut off."""
    if len(line) < 10 or not line.endswith(b"\n") or line[8:9] != b" ":
        return None
    data = line[9:-1]
    try:
        if int(line[:8], 16) != zlib.crc32(data):
            return None
        record = json.loads(data)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def journal_files(directory: Path) -> list[Path]:
    """The journal files of a data folder, oldest first."""
    found = []
    for path in directory.glob(f"{PREFIX}*{SUFFIX}"):
        first = path.name[len(PREFIX) : -len(SUFFIX)]
        if first.isdigit():
            found.append((int(first), path))
    return [path for _, path in sorted(found)]


@dataclass
class Replay:
    """What the journal files hold after a snapshot: records in order, and what a crash cut off."""

    records: list[dict[str, Any]]
    last_seq: int
    torn_bytes: int = 0


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as source:
        yield from source


def read_journals(paths: list[Path], after: int) -> Replay:
    """The records numbered after `after` (a snapshot's sequence number) in these files, checked for gaps and damage."""
    replay = Replay([], after)
    for index, path in enumerate(paths):
        lines = list(_lines(path))
        header = decode(lines[0]) if lines else None
        if header is None or header.get("format") != FORMAT:
            if index == len(paths) - 1 and len(lines) <= 1 and all(decode(line) is None for line in lines):
                replay.torn_bytes += sum(map(len, lines))  # the crash came as the file was begun
                continue
            raise JournalError(f"{path} is not a journal of `make run` (or its first line is damaged)")
        if header.get("version") != VERSION:
            raise JournalError(f"{path} is journal format version {header.get('version')}; this scheduler reads "
                               f"version {VERSION}")  # fmt: skip
        for number, line in enumerate(lines[1:], start=2):
            record = decode(line)
            if record is None:
                later = [n for n, rest in enumerate(lines[number:], start=number + 1) if decode(rest) is not None]
                if later or index < len(paths) - 1:
                    raise JournalError(f"{path} is damaged at line {number} (good records follow it)")
                replay.torn_bytes += sum(map(len, lines[number - 1 :]))
                break
            seq = record.get("seq")
            if not isinstance(seq, int):
                raise JournalError(f"{path} line {number} has no sequence number")
            if seq <= after:
                continue  # already in the snapshot
            if seq != replay.last_seq + 1:
                raise JournalError(f"{path} line {number}: record {seq} follows {replay.last_seq} (some are missing)")
            replay.records.append(record)
            replay.last_seq = seq
    return replay


class Journal:
    """The open journal file: `append` under the write lock, `sync` after it, `switch` to a new file at a snapshot."""

    def __init__(self, directory: Path, after: int) -> None:
        self.directory = directory
        self.seq = after  # the last record appended
        self.synced = after  # the last record on disk
        self.bytes = 0  # appended to the current file
        self._sync_lock = threading.Lock()
        self._fd = self._open(after)

    def _open(self, after: int) -> int:
        self.path = self.directory / f"{PREFIX}{after + 1}{SUFFIX}"
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        header = encode({"format": FORMAT, "version": VERSION, "after": after})
        os.write(fd, header)
        os.fsync(fd)
        _sync_directory(self.directory)
        self.bytes = len(header)
        return fd

    def append(self, record: dict[str, Any] | str) -> int:
        """Write one record, numbered here, to the file (the caller holds the write lock). A record given as JSON text
        keeps the text it was serialised to once (the item images)."""
        self.seq += 1
        text = record if isinstance(record, str) else json.dumps(record, separators=(",", ":"))
        line = encode(f'{{"seq":{self.seq},{text[1:]}')
        os.write(self._fd, line)  # one write(2): in the page cache at once, so a killed process loses nothing
        self.bytes += len(line)
        return self.seq

    def sync(self, upto: int | None = None) -> None:
        """Make the records up to `upto` (default: all appended) durable; one fsync serves every waiting writer."""
        wanted = self.seq if upto is None else upto
        if self.synced >= wanted:
            return
        with self._sync_lock:
            if self.synced >= wanted:
                return
            written = self.seq
            os.fsync(self._fd)
            self.synced = max(self.synced, written)

    def switch(self) -> int:
        """Start a new file after the last record (the caller holds the write lock); returns that record's number."""
        with self._sync_lock:
            os.fsync(self._fd)
            os.close(self._fd)
            self.synced = self.seq
            self._fd = self._open(self.seq)
        return self.seq

    def close(self) -> None:
        with self._sync_lock:
            os.fsync(self._fd)
            os.close(self._fd)
            self.synced = self.seq


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
