"""The local stack's parts: embedded AWS, API server, ticker and invoker pollers."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chalicelib.settings import get_settings

log = logging.getLogger("scheduler.local")
ROOT = Path(__file__).resolve().parents[2]
STACK_PREFIX = "scheduler-dev"  # the dev stage's names (.chalice/config.json)
POLLERS = 4
BATCHES = 128  # invoker batches at once, as Lambda runs many invocations side by side (a batch waits for its slot)
LONG_POLL_SECONDS = 10  # a poll sleeps in the embedded AWS until a message is due (moto_sqs.py): idle costs nothing
TICK_SECOND = 30


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _environment() -> tuple[int, int, bool]:
    """Settings from the environment with the documented defaults; returns (port, moto port, start moto)."""
    settings = get_settings()  # PORT and MOTO_PORT are checked here, naming the variable when wrong
    port, moto_port = settings.port, settings.moto_port
    start_moto = not settings.aws_endpoint_url
    os.environ.setdefault("AWS_ENDPOINT_URL", f"http://127.0.0.1:{moto_port}")
    for name, value in {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
                        "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}.items():  # fmt: skip
        os.environ.setdefault(name, value)
    os.environ.setdefault("GATEWAY_URL", f"http://127.0.0.1:{port}")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # EMF blobs are for CloudWatch, not a terminal
    os.environ["LOCAL_DEV"] = "1"  # the session cookie works over plain http on 127.0.0.1
    os.environ.setdefault("DELIVERY_LEAD_SECONDS", "5")  # one process does every run's work: claim ahead of slots
    get_settings.cache_clear()
    return port, moto_port, start_moto


class Stack:
    def __init__(self) -> None:
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.moto: Any = None
        self.api: Any = None
        self.workers = ThreadPoolExecutor(max_workers=BATCHES, thread_name_prefix="invoker")
        self.free = threading.BoundedSemaphore(BATCHES)

    # -- embedded AWS and resources --

    def start_aws(self, moto_port: int, start_moto: bool) -> None:
        if start_moto:
            if not _port_free(moto_port):
                raise SystemExit(f"MOTO_PORT {moto_port} is in use; set MOTO_PORT or AWS_ENDPOINT_URL")
            from moto.server import ThreadedMotoServer

            from chalicelib.local.atomic import make_dynamodb_writes_atomic
            from chalicelib.local.moto_sqs import make_sqs_fast

            make_dynamodb_writes_atomic()
            make_sqs_fast()
            self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
            self.moto.start()
        from chalicelib.local.infra import create_stack, stack_env
        from chalicelib.stage import apply_stage_environment

        outputs = create_stack(prefix=STACK_PREFIX, stack_name=f"{STACK_PREFIX}-local")
        os.environ.update(stack_env(outputs))
        # Signing keys are wrapped by SIGNING_MASTER_KEY here, not by the embedded KMS (the stage's alias): a
        # master key outlives the process, an embedded KMS key does not. SIGNING_KMS_KEY_ID set by hand wins.
        os.environ.setdefault("SIGNING_KMS_KEY_ID", "")
        apply_stage_environment("dev")

    def seed(self) -> None:
        from chalicelib.bootstrap.sync import run

        report = run(ROOT / "bootstrap")
        for line in report.errors:
            log.error("bootstrap: %s", line)
        done = [f"{s.action} {s.job or s.application}" for s in report.steps]
        log.info("bootstrap sync: %s", ", ".join(done) or "nothing to do")

    # -- API --

    def start_api(self, port: int) -> None:
        if not _port_free(port):
            raise SystemExit(f"PORT {port} is in use; set PORT to another port")
        from chalice.cli import factory

        from app import app
        from chalicelib.local.server import local_server

        config = factory.CLIFactory(str(ROOT)).create_config_obj(chalice_stage_name="dev")
        self.api = local_server(app, config, "127.0.0.1", port)
        self._spawn("api", self.api.serve_forever)

    # -- engine --

    def _tick_forever(self) -> None:
        from app import tick

        while not self.stop.is_set():
            self._tick_once(tick)
            # Half past each minute: EventBridge's rate(1 minute) fires at an arbitrary second and the engine's
            # lookahead allows any; here :30 keeps the tick off the :00 when minute-aligned runs fire.
            self.stop.wait((TICK_SECOND - time.time()) % 60 or 60)

    def _tick_once(self, tick: Any) -> None:
        event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
                 "source": "aws.events", "account": "123456789012", "region": get_settings().region,
                 "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "resources": [], "detail": {}}  # fmt: skip
        try:
            tick(event, None)
        except Exception:
            log.exception("tick failed")

    def _poll_forever(self, url: str, handler_name: str) -> None:
        """Receive batches and hand each to an invoker worker without waiting for it: a batch holds its worker
        until its runs' slots arrive (up to a second), and Lambda would run the next batch meanwhile."""
        import app
        from chalicelib import queue

        handler, sqs = getattr(app, handler_name), queue.client()
        while not self.stop.is_set():
            if not self.free.acquire(timeout=1):
                continue
            try:
                messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=LONG_POLL_SECONDS,
                                               AttributeNames=["All"]).get("Messages", [])  # fmt: skip
            except Exception:
                self.free.release()
                if not self.stop.is_set():
                    log.exception("receive failed")
                self.stop.wait(1)
                continue
            if not messages:
                self.free.release()
                continue
            self.workers.submit(self._deliver_and_free, handler, messages, url)

    def _deliver_and_free(self, handler: Any, messages: list[dict[str, Any]], url: str) -> None:
        try:
            self._deliver(handler, messages, url)
        finally:
            self.free.release()

    def _deliver(self, handler: Any, messages: list[dict[str, Any]], url: str) -> None:
        """What Lambda's event source mapping does: call the handler, delete the batch when it returns."""
        from chalicelib import queue

        arn = f"arn:aws:sqs:{get_settings().region}:123456789012:{url.rsplit('/', 1)[1]}"
        records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                    "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": get_settings().region}
                   for m in messages]  # fmt: skip
        try:
            handler({"Records": records}, None)
        except Exception:
            log.exception("batch failed; its failed messages return after their visibility timeout")
            return
        queue.delete([record["receiptHandle"] for record in records], url=url)

    def start_engine(self) -> None:
        from chalicelib import queue

        self._spawn("tick", self._tick_forever)
        for index in range(POLLERS):
            self._spawn(f"invoker-{index}", lambda: self._poll_forever(queue.queue_url(), "invoke"))
        dead_letters = get_settings().dead_letter_queue_url
        assert dead_letters, "the stack's outputs name the dead-letter queue (INVOKER_DLQ_URL)"
        self._spawn("dead-letters", lambda: self._poll_forever(dead_letters, "dead_letters_handler"))

    # -- lifecycle --

    def _spawn(self, name: str, target: Any) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def shutdown(self) -> None:
        """Stop everything within a few seconds: long polls end with the embedded AWS they wait in."""
        self.stop.set()
        if self.api is not None:
            self.api.server.shutdown()
            self.api.server.server_close()
        if self.moto is not None:
            self.moto.stop()
        deadline = time.monotonic() + 3
        for thread in self.threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self.workers.shutdown(wait=False, cancel_futures=True)


def banner(port: int) -> str:
    from chalicelib.auth import ADMIN_ROLE, issue_dev_token
    from chalicelib.settings import DEV_JWT_SECRET, get_settings

    settings = get_settings()
    base = f"http://127.0.0.1:{port}/_/scheduler"
    lines = [
        "",
        "Scheduler is running locally",
        f"  API          {base}   (OpenAPI: {base}/openapi.json)",
        f"  Admin UI     {base}/ui",
        f"  AWS (moto)   {settings.aws_endpoint_url}",
        f"  Gateway URL  {settings.gateway_url}",
    ]
    if settings.jwt_secret == DEV_JWT_SECRET:
        token = issue_dev_token("admin", roles=[ADMIN_ROLE])
        lines += [
            f"  JWT secret   the dev default (set JWT_SECRET to change): {DEV_JWT_SECRET}",
            "",
            "Sign in to the Admin UI as the dev admin (one click; the token stays in the #fragment, out of logs):",
            f"  {base}/ui#/signin?token={token}",
            "Admin token (24 h):",
            f"  export TOKEN={token}",
        ]
    else:  # the user's own secret, and anything signed with it, stays off the screen and out of logs
        lines += [
            "  JWT secret   from JWT_SECRET (not printed)",
            "",
            "Make an admin token signed with your JWT_SECRET (24 h):",
            "  export TOKEN=$(make -s token)",
        ]
    return "\n".join(
        [
            *lines,
            "Try:",
            f'  curl -s -H "Authorization: Bearer $TOKEN" {base}/jobs',
            "",
            "The demo job self-health-check runs every minute; Ctrl-C stops everything.",
            "",
        ]
    )


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("botocore", "werkzeug", "httpx", "moto", "pynamodb"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from chalicelib.settings import SettingsError

    try:
        port, moto_port, start_moto = _environment()
    except SettingsError as exc:
        print(f"make run: {exc}", file=sys.stderr)
        return 2
    stack = Stack()
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    started = time.monotonic()
    try:
        stack.start_aws(moto_port, start_moto)
        stack.seed()
        stack.start_api(port)
        stack.start_engine()
        print(banner(port), flush=True)
        log.info("ready in %.1f s", time.monotonic() - started)
        while not stopping.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        log.info("stopping")
        stack.shutdown()
    return 0
