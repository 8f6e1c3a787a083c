"""`make run`: the whole stack on a laptop, in one process.

moto on 127.0.0.1:$MOTO_PORT (unless AWS_ENDPOINT_URL points elsewhere), the tables, queue and bus from
infra/template.yaml, the demo application from bootstrap/, the API on 127.0.0.1:$PORT, a tick at
every minute boundary and an SQS poller feeding the invoker: the same handler functions as on AWS.
Ctrl-C or SIGTERM stops everything it started.
"""

from __future__ import annotations

import sys

from chalicelib.local.stack import main

if __name__ == "__main__":
    sys.exit(main())
