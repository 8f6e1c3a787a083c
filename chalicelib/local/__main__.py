"""`make run`: the whole stack on a laptop, in one process.

moto on 127.0.0.1:$MOTO_PORT (unless AWS_ENDPOINT_URL points elsewhere), the tables, queue and bus from
infra/template.yaml, the demo application from bootstrap/, the API on 127.0.0.1:$PORT, a tick at
every minute boundary and an SQS poller feeding the invoker: the same handler functions as on AWS.
The embedded AWS's state is kept in DATA_DIR (default .data/) and restored at start; `--reset` (make run RESET=1)
starts empty. SIGTERM, SIGINT, SIGHUP, or the parent process going, stop everything it started within 5 seconds.
"""

from __future__ import annotations

import logging
import os
import sys

from chalicelib.local.stack import main


def run() -> int:
    try:
        return main(sys.argv[1:])
    except SystemExit as exc:  # a refusal that says why (a port in use), or --help
        if isinstance(exc.code, str):
            print(f"make run: {exc.code}", file=sys.stderr)
            return 1
        return int(exc.code or 0)


if __name__ == "__main__":
    code = run()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # the threads still finishing a run end here, not whenever their call returns
