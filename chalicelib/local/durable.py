"""`make run` keeps its data: the embedded AWS's state in DATA_DIR (default `.data/`), restored at start.

The folder holds a snapshot (`snapshot.jsonl`, chalicelib/local/snapshot.py) and the journal of every change made
since it (`journal-<seq>.jsonl`, chalicelib/local/journal.py), and `stack.lock`, which a running stack holds (a
second stack on the same folder is refused, naming the first one's pid) and which says whether it stopped cleanly.

Start: the snapshot is loaded and the journal replayed over it, into moto, before anything runs. When the journal
held records, the result is written as a new snapshot right away, so each run begins with one snapshot and an empty
journal. A clean stop (SIGTERM, SIGINT, SIGHUP, or the parent gone) writes a final snapshot; a run that finishes
after it still has its records journaled. While running, a new snapshot replaces the journal when the journal has
grown to half the snapshot's size (checked every 5 s), so a start reads at most the state and half of it again.

Why a slot never runs twice across a SIGKILL
---------------------------------------------
A run is claimed by a conditional put of its execution record; only after the put has answered does the invoker
call the target (chalicelib/invoker/run.py). Every DynamoDB write is journaled under the embedded AWS's write lock,
in the order moto applied it (chalicelib/local/atomic.py, capture.py), and the embedded AWS answers a call only once
the journal lines it added are written (one write(2): in the kernel, so a killed process loses nothing) and fsynced
(so a machine that loses power loses nothing either). So a claim the invoker acted on is in the journal, and is
restored after a crash. Anything another thread did because it read the claim is journaled after it: its own
journal lines need the same lock, which the claim's writer holds until its line is written.

At the next start, each restored run still `running` had its invoker die with the process; its message may come
back. Before the engine starts (chalicelib/local/stack.py), each is settled by a conditional write, so no later
delivery, retry or restart runs the slot again:
- after a clean stop, the lock file says when the process ended (`stopped <pid> <ms>`, written last, just before
  `os._exit`). A run claimed for a slot after that moment was still waiting for its slot when every thread ended, so
  it cannot have made its call: its claim is deleted (if still that first attempt) and its message shown again, and
  it runs like any late slot.
- any other (after a crash, or a clean stop that came during its call) may have made its call: it ends `failed`
  with `LOST`, and is not retried. A crash thus costs the runs it interrupts (those claimed up to
  DELIVERY_LEAD_SECONDS before their slot, and those in their call); it never costs a second call.

Slots that fell due while the stack was down are in the queue (each message keeps the moment it becomes due) or
ahead of their job's cursor: the invoker and the tick apply the job's misfirePolicy to them, as after any outage.

What a crash loses: nothing the embedded AWS answered (even when the machine goes down: the fsync); the runs it
interrupts (ended LOST, as above); and which messages were being received at that moment, which are delivered again
and find their runs settled.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from chalicelib.local import capture, snapshot
from chalicelib.local.journal import Journal, JournalError, Replay, journal_files, read_journals

log = logging.getLogger("scheduler.local")
LOCK = "stack.lock"
PREVIOUS = "previous"
CHECK_SECONDS = 5.0
COMPACT_MIN_BYTES = 4 << 20  # a journal this big is folded into a new snapshot even when the state is small


class StateRefused(Exception):
    """The data folder cannot be used as it is; the message says why and what to do. Nothing in it was changed."""


@dataclass
class Restored:
    """What the start found: what it restored, or why it starts empty."""

    items: dict[str, int]  # table -> items
    messages: int
    journal_records: int
    crashed: bool  # the previous stack did not stop cleanly
    reset_to: Path | None = None  # RESET moved the previous state here
    skipped: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not any(self.items.values()) and not self.messages


@dataclass
class Written:
    bytes: int
    seconds: float
    seq: int


class Keeper:
    """One data folder, from `open` (before the embedded AWS starts) to `close` (at a clean stop)."""

    def __init__(self, directory: Path, account_id: str, region: str) -> None:
        self.directory = directory
        self.state = capture.State(account_id, region)
        self.last: Written | None = None
        self.snapshot_bytes = 0  # of the snapshot the journal follows
        self._lock_fd: int | None = None
        self._snapshot: snapshot.Snapshot | None = None
        self._replay = Replay([], 0)
        self._crashed = False
        self.stopped_at: int | None = None  # the previous stack stopped cleanly; every thread of it was gone by then
        self._reset_to: Path | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._compacting = threading.Lock()

    @property
    def snapshot_path(self) -> Path:
        return self.directory / snapshot.NAME

    # -- start ------------------------------------------------------------------------------------------------------

    def open(self, reset: bool) -> None:
        """Take the folder (refused when another stack holds it), move it aside on `reset`, read and check what it
        holds. Raises StateRefused, leaving every file as it was, when the snapshot or journal cannot be used."""
        self.directory.mkdir(parents=True, exist_ok=True)
        lock_fd = self._take_lock()
        if reset:
            self._reset_to = self._move_aside()
        (self.directory / (snapshot.NAME + ".tmp")).unlink(missing_ok=True)  # a snapshot a crash cut short
        try:
            if self.snapshot_path.exists():
                self._snapshot = snapshot.read(self.snapshot_path)
                self.snapshot_bytes = self._snapshot.size
            after = self._snapshot.seq if self._snapshot else 0
            self._replay = read_journals(journal_files(self.directory), after)
        except (snapshot.SnapshotError, JournalError) as exc:
            os.close(lock_fd)  # let go, having changed nothing
            raise StateRefused(
                f"{exc}. The data folder is left as it is: start it with the scheduler version that wrote it, or "
                f"start empty with `make run RESET=1` (`--reset`), which moves it to {self.directory / PREVIOUS}/"
            ) from exc
        self._mark(lock_fd, "running")
        self._lock_fd = lock_fd

    def _take_lock(self) -> int:
        """The folder's lock, held from here until the process ends; what it says of the stack that held it last."""
        fd = os.open(self.directory / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").split()
            os.close(fd)
            pid = holder[1] if len(holder) > 1 else "unknown"
            raise StateRefused(f"DATA_DIR {self.directory} is in use by pid {pid} (another `make run`); stop it, "
                               "or set DATA_DIR to another folder") from None  # fmt: skip
        previous = os.pread(fd, 200, 0).decode(errors="replace").split()
        self._crashed = previous[:1] == ["running"]
        if previous[:1] == ["stopped"] and len(previous) > 2 and previous[2].isdigit():
            self.stopped_at = int(previous[2])
        return fd

    def _mark(self, fd: int, word: str, *more: str) -> None:
        os.ftruncate(fd, 0)
        os.pwrite(fd, " ".join([word, str(os.getpid()), *more]).encode() + b"\n", 0)
        os.fsync(fd)

    def _move_aside(self) -> Path | None:
        kept = [path for path in (self.snapshot_path, *journal_files(self.directory)) if path.exists()]
        if not kept:
            return None
        previous = self.directory / PREVIOUS
        shutil.rmtree(previous, ignore_errors=True)
        previous.mkdir()
        for path in kept:
            path.rename(previous / path.name)
        return previous

    def restore(self) -> Restored:
        """Put the snapshot and the journal back into the embedded AWS (its resources created), then journal every
        change from here on. Called once, before anything reads or writes."""
        started = time.perf_counter()
        state = self.state
        if self._snapshot is not None:
            for line in self._snapshot.lines:
                record = json.loads(line)
                text = None
                if record.get("kind") == "item":  # the item's JSON as written: kept as it is, not made again
                    raw = line.decode().rstrip("\n")
                    text = raw[raw.index(',"item":') + len(',"item":') : -1]
                state.apply(record, text)
        for record in self._replay.records:
            state.apply(record)
        state.finish_restore()
        state.seq = self._replay.last_seq
        messages = sum(len(q._messages) for q in state.sqs().queues.values())
        restored = Restored({table: len(items) for table, items in state.items.items()}, messages,
                            len(self._replay.records), self._crashed, self._reset_to,
                            tuple(sorted(state.skipped)))  # fmt: skip
        loaded = time.perf_counter() - started
        if self._replay.records:
            self.write_snapshot(clean=False)  # each run begins with one snapshot and an empty journal
        log.info("state restored: %d items and %d messages, from a snapshot and %d journal records, in %.2f s%s",
                 sum(restored.items.values()), messages, restored.journal_records, loaded,
                 f"; folded into a snapshot of {self.last.bytes} bytes in {self.last.seconds:.2f} s"
                 if self._replay.records and self.last else "")  # fmt: skip
        for path in journal_files(self.directory):
            path.unlink()
        state.journal = Journal(self.directory, state.seq)
        self._snapshot, self._replay = None, Replay([], 0)
        capture.activate(state)
        return restored

    # -- running ----------------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Check every CHECK_SECONDS: fsync what is appended; fold a grown journal into a new snapshot."""
        self._thread = threading.Thread(target=self._keep, name="state-keeper", daemon=True)
        self._thread.start()

    def _keep(self) -> None:
        while not self._stop.wait(CHECK_SECONDS):
            journal = self.state.journal
            if journal is None:
                continue
            try:
                journal.sync()
                if self.due():
                    self.write_snapshot(clean=False)
            except OSError:
                log.exception("writing the state failed; the journal goes on")

    def due(self) -> bool:
        """A new snapshot is due: the journal has grown to half the last snapshot's size (and COMPACT_MIN_BYTES)."""
        journal = self.state.journal
        return journal is not None and journal.bytes > max(COMPACT_MIN_BYTES, self.snapshot_bytes // 2)

    def write_snapshot(self, clean: bool) -> Written:
        """A snapshot of the state at the journal's last record, replacing the older one and the journal before it."""
        with self._compacting:
            started = time.perf_counter()
            cut = self.state.cut()
            header = {"seq": cut.seq, "takenAt": int(time.time() * 1000), "clean": clean, "counts": cut.counts()}
            size = snapshot.write_atomically(self.snapshot_path, header, cut.lines())
            current = self.state.journal
            for path in journal_files(self.directory):
                if current is None or path.name != current.path.name:
                    path.unlink(missing_ok=True)  # every record in it is in the snapshot now
            self.last = Written(size, time.perf_counter() - started, cut.seq)
            self.snapshot_bytes = size
            return self.last

    # -- stop ----------------------------------------------------------------------------------------------------------

    def close(self) -> Written:
        """The final snapshot of a clean stop. The journal stays open: a run still finishing keeps its record."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(CHECK_SECONDS)
        return self.write_snapshot(clean=True)

    def mark_stopped(self, exit_within_ms: int) -> None:
        """The last step of a clean stop: the process ends within `exit_within_ms`, so a run claimed for a slot after
        that moment cannot have made its call (the next start releases its claim)."""
        if self._lock_fd is not None:
            self._mark(self._lock_fd, "stopped", str(int(time.time() * 1000) + exit_within_ms))

    def detach(self) -> None:
        """Stop journaling and let go of the folder with no final snapshot: what a killed process leaves behind (the
        in-process tests stand for a crash with it)."""
        self._stop.set()
        capture.activate(None)
        if self.state.journal is not None:
            self.state.journal.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def count(self, table: str) -> int:
        return len(self.state.items.get(table, {}))

    def texts(self, table: str) -> list[str]:
        """The JSON of every item of `table`, as kept (for the start's checks of what a crash left)."""
        return list(self.state.items.get(table, {}).values())


def summary(restored: Restored, jobs: int, executions: int, shown: str) -> str:
    """The banner's line about the data: what was restored from where, or that the stack starts empty."""
    if restored.reset_to is not None:
        return f"starting empty (RESET; the previous state is in {restored.reset_to}/), kept in {shown}"
    if restored.empty:
        return f"starting empty, kept in {shown}"
    after = " after a crash" if restored.crashed else ""
    return f"restored {jobs} jobs, {executions} executions from {shown}{after}"
