"""The local stack as `make run` starts it (`chalicelib.local.stack.main`), with the keeping of its state as the
state benchmark asks: `kept` (as `make run` is), `unkept` (the folder restored, then nothing journaled or written:
the stack as it was before its state was kept), `every-5s` (kept, and a new snapshot every 5 s whatever the journal
holds: what a snapshot costs the runs while it is written).

python -m bench.kept_stack kept|unkept|every-5s
"""

from __future__ import annotations

import logging
import os
import sys

from chalicelib.local import capture, durable
from chalicelib.local import stack as local_stack


class Unkept(durable.Keeper):
    def restore(self) -> durable.Restored:
        restored = super().restore()
        capture.activate(None)
        return restored

    def start(self) -> None:
        pass

    def close(self) -> durable.Written:
        return durable.Written(0, 0.0, 0)

    def mark_stopped(self, exit_within_ms: int) -> None:
        pass


class EveryFiveSeconds(durable.Keeper):
    def due(self) -> bool:
        return self.state.journal is not None and self.state.journal.seq > (self.last.seq if self.last else 0)

    def write_snapshot(self, clean: bool) -> durable.Written:
        written = super().write_snapshot(clean)
        logging.getLogger("scheduler.local").info("snapshot: %d bytes in %.3f s", written.bytes, written.seconds)
        return written


KEEPERS = {"kept": durable.Keeper, "unkept": Unkept, "every-5s": EveryFiveSeconds}

if __name__ == "__main__":
    local_stack.Keeper = KEEPERS[sys.argv[1]]  # type: ignore[attr-defined]
    code = local_stack.main([])
    logging.shutdown()
    sys.stdout.flush()
    os._exit(code)
