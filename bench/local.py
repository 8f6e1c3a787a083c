"""The bench's AWS and target: a moto server over HTTP in this process, patched exactly as `make run` patches it
(chalicelib.local: DynamoDB writes made atomic, SQS made fast with thousands of delayed messages), the dev
stage's tables and queues, and a local HTTP target that answers as a realistic endpoint does."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

STATUSES = ("paid", "pending", "refunded", "failed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_aws() -> Any:
    """moto on a free port with `make run`'s patches, the dev stage's resources; returns the server."""
    from moto.server import ThreadedMotoServer

    from chalicelib.local.atomic import make_dynamodb_writes_atomic
    from chalicelib.local.moto_sqs import make_sqs_fast

    make_dynamodb_writes_atomic()
    make_sqs_fast()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    os.environ.update({
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
        "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING", "LOG_LEVEL": "WARNING",
        "POWERTOOLS_TRACE_DISABLED": "true", "EXECUTION_EVENTS": "none",
    })  # fmt: skip
    from chalicelib.local.infra import create_stack, stack_env
    from chalicelib.stage import apply_stage_environment

    os.environ.update(stack_env(create_stack(prefix="scheduler-dev", stack_name="scheduler-bench")))
    apply_stage_environment("dev")
    return server


def purge_queue() -> None:
    """Empty the invoker queue (the tick phases leave their sent slots in it; nothing here receives them)."""
    from chalicelib import queue

    queue.client().purge_queue(QueueUrl=queue.queue_url())


def document() -> bytes:
    """What the target answers: ~2 KB of JSON, a page of 18 records with ids, statuses, timestamps and amounts
    (ids are digests, so the document compresses as real data does, not as a repeated string)."""
    records = []
    for index in range(18):
        digest = hashlib.sha256(f"record-{index}".encode()).hexdigest()
        moment = f"2026-11-{1 + index:02d}T{index % 24:02d}:{(7 * index) % 60:02d}:{(13 * index) % 60:02d}Z"
        records.append({"id": f"ord_{digest[:16]}", "status": STATUSES[index % 4], "createdAt": moment,
                        "amount": int(digest[40:46], 16) / 100})  # fmt: skip
    return json.dumps({"data": records, "hasMore": True}).encode()


SMALL = b'{"ok": true}'
DOCUMENT = document()


class Target:
    """A local HTTP server answering every GET and POST with DOCUMENT (200, JSON); `/small...` with SMALL.
    `/flaky/<key>` answers 503 with Retry-After: 1 the first time each key is asked, then as any other path (a
    run that retries once)."""

    def __init__(self) -> None:
        seen: set[str] = set()
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                status, body, extra = 200, DOCUMENT, {}
                path = self.path.split("?", 1)[0]
                if path.startswith("/small"):
                    body = SMALL
                if path.startswith("/flaky/"):
                    with lock:
                        first = path not in seen
                        seen.add(path)
                    if first:
                        status, body, extra = 503, b'{"error": "busy"}', {"Retry-After": "1"}
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = _answer  # http.server's naming
            do_POST = _answer

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def send_cost_by_depth(depths: tuple[int, ...] = (0, 4_500), batches: int = 50) -> dict[int, float]:
    """ms per SendMessageBatch of 10 delayed messages with the queue already holding `depth` delayed messages:
    what the 15-minute window costs in `make run`'s moto (300 per-minute jobs keep ~4,500 in the queue)."""
    import time

    from chalicelib import queue

    sqs, url = queue.client(), queue.queue_url()

    def send(count: int) -> None:
        for _ in range(0, count, 10):
            entries = [{"Id": str(i), "MessageBody": '{"v": 2, "jobId": 1, "slot": 1}', "DelaySeconds": 900}
                       for i in range(10)]  # fmt: skip
            sqs.send_message_batch(QueueUrl=url, Entries=entries)

    found: dict[int, float] = {}
    for depth in depths:
        purge_queue()
        send(depth)
        started = time.perf_counter()
        send(batches * 10)
        found[depth] = (time.perf_counter() - started) / batches * 1000
    purge_queue()
    return found
