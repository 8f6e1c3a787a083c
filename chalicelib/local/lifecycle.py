"""The local stack's life: it stops cleanly on SIGTERM, SIGINT and SIGHUP (a closed terminal) and when its parent
goes (`make` killed with SIGKILL never forwards anything), and it names the process that holds a port it needs.

The parent is watched by polling `os.getppid()`: when the parent dies the stack is handed to another process (init
or a subreaper), so the value changes. PR_SET_PDEATHSIG would signal sooner, but it fires when the parent *thread*
that started the stack ends, which kills stacks started from a worker thread of a healthy parent. Everything the
stack starts is a thread of its one process (moto, the API, the tick, the pollers), so it all ends with it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from pathlib import Path

PARENT_POLL_SECONDS = 0.25
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def stop_on_signals(stopping: threading.Event) -> None:
    """SIGTERM, SIGINT and SIGHUP set `stopping` (the main thread then stops the stack cleanly)."""
    for number in STOP_SIGNALS:
        signal.signal(number, lambda *_: stopping.set())


def watch_parent(stopping: threading.Event) -> None:
    """Set `stopping` when the process that started this one is gone (nothing to watch when that was init)."""
    parent = os.getppid()
    if parent <= 1:
        return

    def watch() -> None:
        while not stopping.wait(PARENT_POLL_SECONDS):
            if os.getppid() != parent:
                stopping.set()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _socket_inodes(port: int) -> set[str]:
    """Inodes of the TCP sockets bound to `port` on this machine (/proc/net/tcp and tcp6)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) > 9 and int(fields[1].rsplit(":", 1)[1], 16) == port and fields[9] != "0":
                    inodes.add(fields[9])  # a socket a process holds (one in TIME_WAIT has inode 0)
    return inodes


def port_holder(port: int) -> str | None:
    """'pid 1234 (python -m chalicelib.local)' for the process holding `port`, or None when it cannot be seen
    (another user's process, or no /proc)."""
    inodes = {f"socket:[{inode}]" for inode in _socket_inodes(port)}
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in inodes:
                        command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                        return f"pid {proc.name} ({command.strip()[:120]})"
    return None


def port_in_use(name: str, port: int, advice: str) -> str:
    """The message for a port this stack needs that another process holds."""
    holder = port_holder(port)
    held = f"in use by {holder}" if holder else "in use (by a process this user cannot see)"
    return f"{name} {port} is {held}; {advice}"
