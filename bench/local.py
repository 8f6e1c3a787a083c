"""The bench's AWS: a moto server over HTTP in this process (as `make run` uses), the dev stage's tables,
and a local HTTP target. moto's SQS walks every queued message to recount the queue's approximate sizes on
each send (../shared/notes/local-aws-limits.md); the bench answers those counts in O(1) instead, since the
engine never reads them and a 10,000-message tick would otherwise measure moto's walk, not our code."""

from __future__ import annotations

import logging
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_aws() -> Any:
    from moto.server import ThreadedMotoServer
    from moto.sqs.models import Queue

    from chalicelib.local.atomic import make_dynamodb_writes_atomic

    make_dynamodb_writes_atomic()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    Queue.approximate_number_of_messages = property(lambda queue: len(queue._messages))
    Queue.approximate_number_of_messages_delayed = property(lambda queue: 0)
    Queue.approximate_number_of_messages_not_visible = property(lambda queue: 0)
    os.environ.update({
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
        "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING", "LOG_LEVEL": "WARNING",
    })  # fmt: skip
    from chalicelib.local.infra import create_stack, stack_env
    from chalicelib.local.stage import apply_stage_environment

    os.environ.update(stack_env(create_stack(prefix="scheduler-dev", stack_name="scheduler-bench")))
    apply_stage_environment("dev")
    return server


class Target:
    """A local HTTP server answering 200 with a small JSON body, as a cheap endpoint would."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                body = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        os.environ["ALLOWED_TARGET_HOSTS"] = f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
