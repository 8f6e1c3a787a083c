"""The local stack's parts: embedded AWS, API server, ticker and invoker pollers."""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chalicelib.local.durable import Keeper, Restored, StateRefused, summary
from chalicelib.local.lifecycle import port_in_use, stop_on_signals, watch_parent
from chalicelib.settings import get_settings

log = logging.getLogger("scheduler.local")
ROOT = Path(__file__).resolve().parents[2]
STACK_PREFIX = "scheduler-dev"  # the dev stage's names (.chalice/config.json)
POLLERS = 4
BATCHES = 128  # invoker batches at once, as Lambda runs many invocations side by side (a batch waits for its slot)
LONG_POLL_SECONDS = 10  # a poll sleeps in the embedded AWS until a message is due (moto_sqs.py): idle costs nothing
TICK_SECOND = 30
STOP_SECONDS = 4.5  # a stop ends every thread within 5 s, ports free (the issue's promise)
DRAIN_SECONDS = 2.0  # of which the runs under way get this long to finish
EXIT_WITHIN_MS = 500  # after the stop is marked, the process ends within this (os._exit, in __main__.py)
INTERRUPTED = "the local stack stopped during this run; it is not run again, since its call may have been made"


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass(frozen=True)
class Environment:
    port: int
    moto_port: int
    start_moto: bool  # False: AWS_ENDPOINT_URL names an endpoint, whose own storage keeps the state
    data_dir: Path
    shown: str  # DATA_DIR as the user wrote it (or the default), for messages


def _environment() -> Environment:
    """Settings from the environment with the documented defaults."""
    settings = get_settings()  # PORT and MOTO_PORT are checked here, naming the variable when wrong
    port, moto_port = settings.port, settings.moto_port
    start_moto = not settings.aws_endpoint_url
    shown = settings.data_dir.rstrip("/") + "/"
    os.environ.setdefault("AWS_ENDPOINT_URL", f"http://127.0.0.1:{moto_port}")
    for name, value in {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
                        "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}.items():  # fmt: skip
        os.environ.setdefault(name, value)
    os.environ.setdefault("GATEWAY_URL", f"http://127.0.0.1:{port}")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # EMF blobs are for CloudWatch, not a terminal
    os.environ["LOCAL_DEV"] = "1"  # the session cookie works over plain http on 127.0.0.1
    os.environ.setdefault("DELIVERY_LEAD_SECONDS", "5")  # one process does every run's work: claim ahead of slots
    get_settings.cache_clear()
    return Environment(port, moto_port, start_moto, ROOT / settings.data_dir, shown)


class Stack:
    def __init__(self) -> None:
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.moto: Any = None
        self.api: Any = None
        self.workers = ThreadPoolExecutor(max_workers=BATCHES, thread_name_prefix="invoker")
        self.free = threading.BoundedSemaphore(BATCHES)
        self.in_flight = 0  # invoker batches being run
        self.settled = threading.Condition()
        self.keeper: Keeper | None = None
        self.restored: Restored | None = None

    # -- embedded AWS, its kept state, and resources --

    @staticmethod
    def check_ports(environment: Environment) -> None:
        """Both ports free, or a message naming the process that holds one (before anything is started)."""
        if environment.start_moto and not _port_free(environment.moto_port):
            raise SystemExit(port_in_use("MOTO_PORT", environment.moto_port, "stop it, or set MOTO_PORT or "
                                         "AWS_ENDPOINT_URL"))  # fmt: skip
        if not _port_free(environment.port):
            raise SystemExit(port_in_use("PORT", environment.port, "stop it, or set PORT to another port"))

    def open_state(self, environment: Environment, reset: bool) -> None:
        """Take the data folder and check what it holds, before the embedded AWS starts (raises StateRefused)."""
        from moto.core import DEFAULT_ACCOUNT_ID

        keeper = Keeper(environment.data_dir, DEFAULT_ACCOUNT_ID, get_settings().region)
        keeper.open(reset)
        self.keeper = keeper  # only a folder that opened is ever written

    def start_aws(self, moto_port: int, start_moto: bool) -> None:
        if start_moto:
            from moto.server import ThreadedMotoServer

            from chalicelib.local import capture

            capture.install()  # atomic DynamoDB writes, fast SQS, and the hooks that keep the state
            self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
            self.moto.start()
        from chalicelib.local.infra import create_stack, stack_env
        from chalicelib.stage import apply_stage_environment

        outputs = create_stack(prefix=STACK_PREFIX, stack_name=f"{STACK_PREFIX}-local")
        if self.keeper is not None:
            self.restored = self.keeper.restore()
            for skipped in self.restored.skipped:
                log.warning("kept state of %s not restored: infra/template.yaml no longer creates it", skipped)
        os.environ.update(stack_env(outputs))
        # Signing keys are wrapped by SIGNING_MASTER_KEY here, not by the embedded KMS (the stage's alias): a
        # master key outlives the process, while the embedded KMS creates a new key at every start, which could not
        # open the data keys the kept state holds. Against another endpoint, a SIGNING_KMS_KEY_ID given wins.
        if start_moto:
            os.environ["SIGNING_KMS_KEY_ID"] = ""
        else:
            os.environ.setdefault("SIGNING_KMS_KEY_ID", "")
        apply_stage_environment("dev")
        get_settings.cache_clear()  # the stack's outputs are settings now

    def settle_interrupted_runs(self) -> tuple[int, int]:
        """Runs the last stop or crash left `running` (their invoker died with the process) are settled before
        anything runs, so no delivery, retry or restart runs their slot again (chalicelib/local/durable.py): a run
        claimed for a slot after a clean stop's end cannot have made its call, so its claim is released and its
        message shown again (it runs, late or per misfirePolicy); any other may have made its call, so it ends
        failed LOST. Returns (released, lost)."""
        from chalicelib import queue
        from chalicelib.clock import now_ms
        from chalicelib.invoker.outcome import run_ended
        from chalicelib.store import executions as execution_store

        assert self.keeper is not None
        stopped_at, released, lost = self.keeper.stopped_at, set(), 0
        for text in self.keeper.texts(get_settings().executions_table):
            if '"running"' not in text:
                continue
            item = json.loads(text)
            execution = execution_store.get(int(item["jobId"]["N"]), int(item["slot"]["N"]))
            if execution is None or execution.status != execution_store.RUNNING:
                continue
            if stopped_at is not None and execution.slot > stopped_at and execution_store.release(execution):
                released.add((execution.job_id, execution.slot))
                continue
            failed = execution_store.fail(execution, now_ms(), "LOST", INTERRUPTED)
            if failed is not None:
                run_ended(failed, "failed")
                lost += 1

        def carries_released(body: str) -> bool:
            message = queue.decode(body)
            return isinstance(message, queue.RunMessage) and (message.job_id, message.slot) in released

        if released:
            self.keeper.state.show_again(queue.queue_url().rsplit("/", 1)[1], carries_released)
        if released or lost:
            log.warning("runs in flight when the stack last stopped: %d not yet called run again, %d ended failed "
                        "LOST (their call may have been made; not run again)", len(released), lost)  # fmt: skip
        return len(released), lost

    def seed(self) -> None:
        from chalicelib.bootstrap.sync import run

        report = run(ROOT / "bootstrap")
        for line in report.errors:
            log.error("bootstrap: %s", line)
        done = [f"{s.action} {s.job or s.application}" for s in report.steps]
        log.info("bootstrap sync: %s", ", ".join(done) or "nothing to do")

    # -- API --

    def start_api(self, port: int) -> None:
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
            if self.stop.is_set():  # received as the stack stops: back to the queue at once, for the next start
                self.free.release()
                entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                           for i, m in enumerate(messages)]  # fmt: skip
                sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)
                continue
            with self.settled:
                self.in_flight += 1
            self.workers.submit(self._deliver_and_free, handler, messages, url)

    def _deliver_and_free(self, handler: Any, messages: list[dict[str, Any]], url: str) -> None:
        try:
            self._deliver(handler, messages, url)
        finally:
            self.free.release()
            with self.settled:
                self.in_flight -= 1
                self.settled.notify_all()

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
        """Stop within STOP_SECONDS: no new runs; the runs under way get DRAIN_SECONDS to finish (one still waiting
        for its slot past that ends LOST at the next start); the final snapshot; then the embedded AWS."""
        deadline = time.monotonic() + STOP_SECONDS
        self.stop.set()
        if self.moto is not None:
            from chalicelib.local.moto_sqs import close_receives

            close_receives()  # every long poll answers now, empty
        if self.api is not None:
            self.api.server.shutdown()
            self.api.server.server_close()
        with self.settled:
            self.settled.wait_for(lambda: self.in_flight == 0, timeout=DRAIN_SECONDS)
        if self.keeper is not None and self.restored is not None:  # a start that failed half-way writes nothing
            written = self.keeper.close()
            log.info("state written: %d bytes in %.2f s", written.bytes, written.seconds)
        if self.moto is not None:
            self.moto.stop()
        for thread in self.threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self.workers.shutdown(wait=False, cancel_futures=True)


def banner(port: int, state: str) -> str:
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
        f"  State        {state}",
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


def state_line(stack: Stack, environment: Environment) -> str:
    """What the banner says about the data: restored from where, starting empty, or kept by another endpoint."""
    if stack.keeper is None or stack.restored is None:
        return f"kept by {get_settings().aws_endpoint_url} (AWS_ENDPOINT_URL); make run keeps no snapshot"
    settings = get_settings()
    jobs, executions = stack.keeper.count(settings.jobs_table), stack.keeper.count(settings.executions_table)
    return summary(stack.restored, jobs, executions, environment.shown)


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.local", description="make run: the local stack")
    parser.add_argument("--reset", action="store_true",
                        help="start empty: the kept state moves to DATA_DIR/previous/ (make run RESET=1)")  # fmt: skip
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    reset = arguments(argv).reset
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("botocore", "werkzeug", "httpx", "moto", "pynamodb"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from chalicelib.settings import SettingsError

    try:
        environment = _environment()
    except SettingsError as exc:
        print(f"make run: {exc}", file=sys.stderr)
        return 2
    stopping = threading.Event()
    stop_on_signals(stopping)
    watch_parent(stopping)
    stack = Stack()
    started = time.monotonic()
    try:
        stack.check_ports(environment)
        if environment.start_moto:
            stack.open_state(environment, reset)
        stack.start_aws(environment.moto_port, environment.start_moto)
        stack.seed()
        if stack.keeper is not None:
            stack.settle_interrupted_runs()
        stack.start_api(environment.port)
        stack.start_engine()
        if stack.keeper is not None:
            stack.keeper.start()
        print(banner(environment.port, state_line(stack, environment)), flush=True)
        log.info("ready in %.1f s", time.monotonic() - started)
        while not stopping.wait(0.5):
            pass
    except StateRefused as exc:
        print(f"make run: {exc}", file=sys.stderr)
        return 2
    finally:
        log.info("stopping")
        stack.shutdown()
        if stack.keeper is not None and stack.restored is not None:
            stack.keeper.mark_stopped(EXIT_WITHIN_MS)  # last: the process ends right after (__main__.py)
    return 0
