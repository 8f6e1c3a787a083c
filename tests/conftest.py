"""Shared fixtures: moto with the tables from infra/template.yaml, the Chalice test client, tokens,
and a real local HTTP server as a call target."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.client
import pytest

ROOT = Path(__file__).resolve().parents[1]
STAGE_ENV = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]["dev"]["environment_variables"]
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "VALIDATE_RESPONSES": "1",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "JWT_SECRET": "test-secret-0123456789abcdef0123456789",
        "GATEWAY_URL": "http://127.0.0.1:8000",
        **STAGE_ENV,
    }
)
for name in ("AWS_ENDPOINT_URL", "ALLOWED_TARGET_HOSTS", "INTERNAL_HOSTS", "JWT_JWKS_URL", "AWS_PROFILE"):
    os.environ.pop(name, None)

from chalice.test import Client
from hypothesis import HealthCheck, settings
from moto import mock_aws

from chalicelib import events, queue
from chalicelib.auth import ADMIN_ROLE, issue_dev_token
from chalicelib.clock import now_ms
from chalicelib.engine.tick import TickReport, handle, tick
from chalicelib.invoker import run as invoker
from chalicelib.local.atomic import make_dynamodb_writes_atomic
from chalicelib.local.infra import create_stack
from chalicelib.local.moto_sqs import make_sqs_fast
from chalicelib.settings import get_settings
from chalicelib.store import executions as execution_store
from chalicelib.store import jobs as job_store
from chalicelib.store import signing_keys
from chalicelib.store.models import JobModel, reset_connections
from chalicelib.store.records import Execution
from tests import declared
from tests.fast_moto import make_moto_setup_fast

STACK_PREFIX = "scheduler-dev"

# Generated hostile input: no example database in the checkout, no per-example deadline (moto is slow and shared),
# and the function-scoped fixtures (one moto account, one app) are meant to be shared by a test's examples.
SHARED_FIXTURES = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
settings.register_profile("scheduler", database=None, deadline=None, max_examples=40,
                          suppress_health_check=SHARED_FIXTURES)  # fmt: skip
settings.load_profile("scheduler")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow end-to-end tests first (a minute or more each): started last, one of them would run on while the
    other worker sits idle."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def reset_caches() -> None:
    get_settings.cache_clear()
    reset_connections()
    events.reset()
    queue.reset()
    signing_keys.reset()


@pytest.fixture
def aws() -> Iterator[None]:
    """A fresh moto account with the stack created from infra/template.yaml (its DynamoDB writes atomic, as
    DynamoDB's are: chalicelib/local/atomic.py)."""
    make_dynamodb_writes_atomic()
    make_sqs_fast()
    make_moto_setup_fast()
    with mock_aws():
        reset_caches()
        create_stack(prefix=STACK_PREFIX)
        yield
    reset_caches()


class SettingsEnv:
    """`setenv` for settings: the variable is set and the settings cache dropped, so it takes effect now."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch

    def setenv(self, name: str, value: str) -> None:
        self.monkeypatch.setenv(name, value)
        get_settings.cache_clear()


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[SettingsEnv]:
    """Change settings for one test: `settings_env.setenv(...)`; the cache is dropped again afterwards."""
    yield SettingsEnv(monkeypatch)
    get_settings.cache_clear()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def error_fields(self) -> list[str]:
        return [detail["field"] for detail in self.json["error"]["details"]]


class Api:
    """The Chalice test client with tokens and JSON handled."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.token = token("admin", admin=True)

    def as_user(self, user_token: str | None) -> Api:
        other = Api(self.client)
        other.token = user_token
        return other

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, raw: bytes | None = None
    ) -> Answer:
        sent = {"Content-Type": "application/json"}
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        sent.update(headers or {})
        payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        response = self.client.http.request(method, path, headers=sent, body=payload)
        declared.check(method, path, response.status_code, response.headers)
        return Answer(response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.body)

    def get(self, path: str, **kw: Any) -> Answer:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Answer:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Answer:
        return self.request("PUT", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Answer:
        return self.request("DELETE", path, **kw)

    def pages(self, path: str) -> list[dict[str, Any]]:
        """Every item of a list, following X-Next-Cursor page by page."""
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            separator = "&" if "?" in path else "?"
            answer = self.get(path + (f"{separator}cursor={cursor}" if cursor else ""))
            items.extend(answer.json)
            cursor = answer.headers.get("x-next-cursor")
            if not cursor:
                return items

    # -- shortcuts for setting the scene --

    def make_app(self, name: str = "demo", display: str = "Demo") -> dict[str, Any]:
        answer = self.post("/_/scheduler/applications", {"name": name, "displayName": display})
        assert answer.status == 201, answer.body
        return answer.json

    def make_job(self, application_id: int, name: str = "nightly-sync", **fields: Any) -> dict[str, Any]:
        body = {
            "applicationId": application_id,
            "name": name,
            "pattern": "0 2 * * *",
            "taskConfig": {"endpoint": "https://api.example.com", "method": "POST", "path": "/sync"},
            **fields,
        }
        answer = self.post("/_/scheduler/jobs", body)
        assert answer.status == 201, answer.body
        return answer.json


def token(sub: str, admin: bool = False, apps: list[str] | None = None) -> str:
    return issue_dev_token(sub, roles=[ADMIN_ROLE] if admin else [], apps=apps or [])


@pytest.fixture
def api(aws: None) -> Iterator[Api]:
    from app import app

    with Client(app, stage_name="dev", project_dir=str(ROOT)) as client:
        yield Api(client)


@pytest.fixture
def member(api: Api) -> Api:
    """A user who may manage the `demo` application only."""
    return api.as_user(token("mia", apps=["demo"]))


@pytest.fixture
def outsider(api: Api) -> Api:
    """A user who may manage only `other`."""
    return api.as_user(token("oscar", apps=["other"]))


@dataclass
class Live:
    """The app served over real HTTP by Chalice's local server (same process, so moto applies)."""

    base: str

    def url(self, path: str) -> str:
        return self.base + path


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live(aws: None) -> Iterator[Live]:
    import threading

    from chalice.cli import factory

    from app import app
    from chalicelib.local.server import local_server

    port = free_port()
    config = factory.CLIFactory(str(ROOT)).create_config_obj(chalice_stage_name="dev")
    server = local_server(app, config, "127.0.0.1", port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Live(f"http://127.0.0.1:{port}")
    server.shutdown()
    server.server.server_close()


# --- a real local HTTP server as the call target -------------------------------------------------------


class Target:
    """A threaded HTTP server on 127.0.0.1 that records requests; behaviour is chosen by path:
    /ok, /status/<code>, /flaky/<n>, /slow/<ms>, /redirect?to=<url>, /loop, /big, /garbage, /reset, /mirror,
    /attack?to=<url> (a cross-site form post);
    anything else echoes."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[dict[str, Any]] = []
        self.hits: dict[str, int] = {}
        target = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                target.requests.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body,
                     "at": time.time()}
                )  # fmt: skip
                path = self.path.split("?")[0]
                if path.startswith("/flaky/"):  # /flaky/N: 503 with Retry-After 1 N times, then 200
                    failures = int(path.rsplit("/", 1)[1])
                    target.hits[path] = target.hits.get(path, 0) + 1
                    if target.hits[path] <= failures:
                        return self._send(503, b'{"state": "busy"}', {"Retry-After": "1"})
                    return self._send(200, b'{"state": "ok"}')
                if path.startswith("/status/"):
                    return self._send(int(path.rsplit("/", 1)[1]), b'{"state": "bad"}')
                if path.startswith("/slow/"):
                    import time as _time

                    _time.sleep(int(path.rsplit("/", 1)[1]) / 1000)
                    return self._send(200, b'{"slow": true}')
                if path == "/redirect":
                    location = self.path.split("to=", 1)[1]
                    from urllib.parse import unquote

                    return self._send(302, b"", {"Location": unquote(location)})
                if path == "/loop":
                    return self._send(302, b"", {"Location": "/loop"})
                if path == "/big":
                    return self._send(200, b"x" * (10 * 1024 * 1024), content_type="text/plain")
                if path == "/attack":  # another origin's page that posts a form to ?to=<url> when opened
                    from html import escape
                    from urllib.parse import parse_qs

                    to = escape(parse_qs(self.path.split("?", 1)[1])["to"][0])
                    page = (f'<form id="f" method="post" action="{to}" enctype="text/plain">'
                            '<input name=\'{"applicationId":1,"name":"csrf","pattern":"* * * * *","x":"\' value=\'"}\'>'
                            '</form><script>document.getElementById("f").submit()</script>')  # fmt: skip
                    return self._send(200, page.encode(), content_type="text/html")
                if path == "/mirror":  # answers with what it was sent
                    return self._send(200, body)
                if path == "/garbage":
                    return self._send(200, b"\x00\xff{not json", content_type="application/json")
                if path == "/reset":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return None
                echo = {"method": self.command, "path": self.path, "body": body.decode(errors="replace")}
                return self._send(200, json.dumps(echo).encode())

            def _send(self, code: int, payload: bytes, headers: dict[str, str] | None = None,
                      content_type: str = "application/json") -> None:  # fmt: skip
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_port
        self.base = f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class RawTarget:
    """A TCP server on 127.0.0.1 that answers `/<name>` with the exact bytes `answers[name]` and closes: a target
    that misbehaves at the HTTP level (bad status lines, lengths, Locations, encodings)."""

    def __init__(self, answers: dict[str, bytes]) -> None:
        import socket
        import threading

        self.answers = answers
        self.paths: list[str] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                head = b""
                while b"\r\n\r\n" not in head and len(head) < 65536:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    head += chunk
                parts = head.split(b" ", 2)
                path = parts[1].decode("latin-1") if len(parts) > 1 else "/"
                self.paths.append(path)
                with contextlib.suppress(OSError):
                    conn.sendall(
                        self.answers.get(
                            path.lstrip("/").split("?")[0], b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
                        )
                    )

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def target(settings_env: SettingsEnv) -> Iterator[Target]:
    """A local target, let through the URL guard with ALLOWED_TARGET_HOSTS (as `make run` users do)."""
    server = Target()
    settings_env.setenv("ALLOWED_TARGET_HOSTS", f"127.0.0.1:{server.port}")
    get_settings.cache_clear()
    yield server
    server.close()


E2E_SECRET = "e2e-secret-0123456789abcdef0123456789ab"


def stack_children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (/proc/<pid>/task/*/children)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def process_gone(pid: int) -> bool:
    """True when `pid` has exited (a zombie waiting for its new parent to reap it counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


@contextlib.contextmanager
def local_stack(tmp_path: Path, jwt_secret: str | None = E2E_SECRET, *, data_dir: Path | None = None,
                ports: tuple[int, int] | None = None, target: Target | None = None, make: bool = False,
                args: tuple[str, ...] = (), env: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:  # fmt: skip
    """`make run` as a user starts it (the real process on free ports, a local target allowed), until the
    banner is printed: its client, target, process, ports, sign-in link and cold-start time. With a
    `jwt_secret` the banner prints no token (checked) and the client signs its own; with None the stack uses
    the dev default and the token and sign-in link come from the banner.

    Its state is kept in `data_dir` (default: a folder of `tmp_path`); a test that starts it again passes the same
    folder, `ports` and `target` (which it then closes itself). With `make`, it is started as `make run` (`args` are
    make's, such as RESET=1): `process` is make, and `stack_pid` is always the Python stack's process."""
    import re
    import subprocess
    import sys

    import httpx
    import jwt

    own_target = target is None
    target = target or Target()
    port, moto_port = ports or (free_port(), free_port())
    folder = data_dir or tmp_path / "data"
    env_vars = {k: v for k, v in os.environ.items()
                if not k.startswith(("AWS_", "JOBS_", "KEYS_", "EXECUTIONS_", "APPLI"))}  # fmt: skip
    env_vars.update({"PORT": str(port), "MOTO_PORT": str(moto_port), "ALLOWED_TARGET_HOSTS": f"127.0.0.1:{target.port}",
                     "PYTHONUNBUFFERED": "1", "DATA_DIR": str(folder), **(env or {})})  # fmt: skip
    env_vars.pop("GATEWAY_URL", None)
    env_vars.pop("JWT_SECRET", None)
    if jwt_secret is not None:
        env_vars["JWT_SECRET"] = jwt_secret
    started = time.monotonic()
    log = tmp_path / f"make-run-{int(started * 1000)}.log"
    command = ["make", "-s", "run", *args] if make else [sys.executable, "-m", "chalicelib.local", *args]
    with log.open("w") as sink:  # a file, not a pipe: a full pipe would block the stack
        process = subprocess.Popen(command, cwd=ROOT, env=env_vars, stdout=sink, stderr=subprocess.STDOUT,
                                   text=True)  # fmt: skip
    stack_pid = process.pid
    try:
        while "The demo job" not in log.read_text():
            time.sleep(0.1)
            output = log.read_text()
            assert process.poll() is None, "make run exited early:\n" + output
            assert time.monotonic() - started < 60, output
        if make:
            (stack_pid,) = stack_children(process.pid)
        output = log.read_text()
        sign_in = re.search(r"(http://\S+/ui#/signin\?token=\S+)", output)
        if jwt_secret is None:
            token = re.search(r"export TOKEN=(\S+)", output).group(1)
        else:
            assert jwt_secret not in output and "export TOKEN=ey" not in output and sign_in is None, output
            token = jwt.encode({"sub": "admin", "roles": [ADMIN_ROLE], "exp": int(time.time()) + 3600}, jwt_secret)
        cold_start = time.monotonic() - started
        base = f"http://127.0.0.1:{port}/_/scheduler"
        hooks = {"response": [lambda r: declared.check(r.request.method, str(r.request.url), r.status_code,
                                                       r.headers)]}  # fmt: skip
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10,
                              event_hooks=hooks)  # fmt: skip
        try:
            yield {"client": client, "target": target, "process": process, "port": port, "moto_port": moto_port,
                   "cold_start": cold_start, "log": log, "output": output, "stack_pid": stack_pid,
                   "data_dir": folder, "sign_in": sign_in.group(1) if sign_in else None}  # fmt: skip
        finally:
            client.close()
    finally:
        for pid in {stack_pid, process.pid}:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
        process.wait()
        if own_target:
            target.close()


@pytest.fixture
def bus_queue(api: Api) -> Callable[[], list[dict[str, Any]]]:
    """An SQS queue subscribed to every scheduler event on the bus; the callable returns what arrived."""
    sqs, eventbridge = boto3.client("sqs"), boto3.client("events")
    url = sqs.create_queue(QueueName="event-tap")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = get_settings().event_bus_name
    eventbridge.put_rule(Name="tap", EventBusName=bus, EventPattern=json.dumps({"source": ["scheduler"]}))
    eventbridge.put_targets(Rule="tap", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])

    def received() -> list[dict[str, Any]]:
        """Every event that arrived since the last call."""
        events: list[dict[str, Any]] = []
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            events.extend(json.loads(message["Body"]) for message in messages)
            sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                            for i, m in enumerate(messages)])  # fmt: skip
        return events

    return received


# --- the engine as AWS drives it: the tick handler, the queue, the invoker handler --------------------------

YEARLY = "0 0 1 1 *"  # only the slot a test forces with Engine.make_due falls inside the tick's horizon
ONE_ATTEMPT = {"maxAttempts": 1}  # tests of a single attempt's outcome (retries have their own tests)


class Engine:
    def __init__(self) -> None:
        queue.reset()
        self.sqs = boto3.client("sqs")
        self.url = queue.queue_url()

    def tick(self, at: int | None = None) -> TickReport:
        return tick(at)

    def make_due(self, job_id: int, in_ms: int = 150) -> int:
        """Move a job's next slot to just ahead of now (tests cannot wait for the next minute)."""
        slot = now_ms() + in_ms
        JobModel(job_id).update(
            actions=[JobModel.nextRunAt.set(slot), JobModel.dueShard.set(job_id % get_settings().due_shards)]
        )
        return slot

    def queued(self) -> list[tuple[queue.Message, int]]:
        """Every message of the invoker queue, delayed and in flight ones too (which `receive` cannot see), with
        the moment (epoch ms) it can be received: read from moto's queue."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.sqs.models import sqs_backends

        held = sqs_backends[DEFAULT_ACCOUNT_ID][get_settings().region].queues[self.url.rsplit("/", 1)[1]]
        return [(queue.decode(m.body), int(max(m.delayed_until, m.visible_at, m.sent_timestamp or 0)))
                for m in list(held._messages)]  # fmt: skip  # a message sent with no delay: receivable when sent

    def redeliver(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The messages of these records come back now, as when their visibility timeout runs out."""
        entries = [{"Id": str(i), "ReceiptHandle": r["receiptHandle"], "VisibilityTimeout": 0}
                   for i, r in enumerate(records)]  # fmt: skip
        for start in range(0, len(entries), 10):
            self.sqs.change_message_visibility_batch(QueueUrl=self.url, Entries=entries[start : start + 10])
        back: list[dict[str, Any]] = []
        deadline = time.monotonic() + 5
        while len(back) < len(records) and time.monotonic() < deadline:  # visible from the next millisecond
            back += self.receive(wait=1)
        return back

    def receive(self, wait: int = 0) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=wait, AttributeNames=["All"]
            ).get("Messages", [])
            if not messages:
                return records
            records.extend(
                {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                 "attributes": m.get("Attributes", {})}  # as Lambda's event source passes them (receive count)
                for m in messages
            )  # fmt: skip
            wait = 0

    def deliver(self, records: list[dict[str, Any]], resolver: Any = None) -> list[dict[str, Any]]:
        """The invoker on a batch; like Lambda, deletes the batch when the handler returns."""
        failed = invoker.handle_records(records, resolver, shards=handle)
        done = [r["receiptHandle"] for r in records if r not in failed]
        if done:
            queue.delete(done)
        return failed

    def deliver_apart(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Deliver so no batch holds two messages of one (job, slot), each slot's first message in one batch and
        its copies in the batches after: every copy then meets its run finished (in one batch, it would meet it
        still running), whatever the threads' order."""
        rounds: list[list[dict[str, Any]]] = []
        seen: dict[tuple[int, int], int] = {}
        for record in records:
            body = json.loads(record["body"])
            key = (body.get("jobId"), body.get("slot"))
            seen[key] = seen.get(key, -1) + 1
            if seen[key] == len(rounds):
                rounds.append([])
            rounds[seen[key]].append(record)
        return [failed for batch in rounds for failed in self.deliver(batch)]

    def run_due(self, resolver: Any = None) -> list[dict[str, Any]]:
        self.tick()
        return self.deliver(self.receive(), resolver)

    def executions(self, job_id: int) -> list[Execution]:
        """Every run of a job, oldest slot first."""
        found, _ = execution_store.list_for_job(job_id, None, 10_000, None, None, None)
        return sorted(found, key=lambda execution: execution.slot)

    def run_job(self, api: Api, job: dict[str, Any], resolver: Any = None) -> dict[str, Any]:
        """Make the job due now, run the tick and the invoker, and return that run as the API shows it."""
        slot = self.make_due(job["id"])
        assert self.run_due(resolver) == []
        execution = execution_store.get(job["id"], slot)
        assert execution is not None, f"slot {slot} of job {job['id']} did not run"
        answer = api.get(f"/_/scheduler/executions/{execution.id}")
        assert answer.status == 200, answer.body
        return answer.json


def store_spec(job_id: int, **fields: Any) -> None:
    """Overwrite fields of a stored job as they are, past every input rule: a job stored before today's rules
    (or a state the API cannot produce). `taskConfig` replaces the whole task configuration."""
    spec = job_store.raw_spec(job_id)
    spec.update(fields)
    job_store.write_raw_spec(job_id, spec)


@pytest.fixture
def engine(aws: None) -> Engine:
    return Engine()


def run_events(received: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """The run events among events taken off the bus (`bus_queue()`): (started/succeeded/failed, the execution as
    the API shows it)."""
    prefix = "scheduler.job.execution."
    return [(event["detail-type"].removeprefix(prefix), event["detail"]["execution"]) for event in received
            if event["detail-type"].startswith(prefix)]  # fmt: skip


# --- DynamoDB write units, as DynamoDB bills them --------------------------------------------------------------

WRITES = {"PutItem", "UpdateItem", "DeleteItem"}
GSI_OVERHEAD = 100  # bytes DynamoDB adds to each index entry


def _value_size(value: dict[str, Any]) -> int:
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(raw.encode())
    if kind == "N":
        from decimal import Decimal

        return 1 + -(-len(Decimal(raw).normalize().as_tuple().digits) // 2)
    if kind == "B":
        return len(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in raw.items())
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in raw)
    return sum(len(str(v)) for v in raw)  # sets


def _item_size(item: dict[str, Any] | None) -> int:
    return sum(len(name.encode()) + _value_size(value) for name, value in (item or {}).items())


class WriteUnits:
    """Write units per table of every single-item DynamoDB write (PutItem, UpdateItem, DeleteItem), from the item
    images before and after it (read with a separate, uncounted client; moto computes no capacity): the table
    ceil(max(before, after) / 1 KB); each GSI entry put or deleted ceil((projected bytes + 100) / 1 KB), both
    when its key changes. Transactions are not counted (the engine writes none)."""

    def __init__(self) -> None:
        import threading

        self.units: dict[str, int] = {}
        self.lock = threading.Lock()
        self.raw = boto3.client("dynamodb")
        self.schemas: dict[str, tuple[list[str], list[tuple[list[str], str, list[str]]]]] = {}

    def of(self, table: str) -> int:
        return self.units.get(table, 0)

    def clear(self) -> None:
        with self.lock:
            self.units.clear()

    def wrap(self, original: Any) -> Any:
        meter = self

        def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
            if client is meter.raw or client.meta.service_model.service_name != "dynamodb" or operation not in WRITES:
                return original(client, operation, params)
            before = meter._image(params)
            try:
                return original(client, operation, params)
            finally:  # a refused conditional write is billed too (for the item as it stands)
                units = meter._units(params["TableName"], before, meter._image(params))
                with meter.lock:
                    meter.units[params["TableName"]] = meter.units.get(params["TableName"], 0) + units

        return counted

    def _schema(self, table: str) -> tuple[list[str], list[tuple[list[str], str, list[str]]]]:
        if table not in self.schemas:
            described = self.raw.describe_table(TableName=table)["Table"]
            indexes = [([k["AttributeName"] for k in index["KeySchema"]], index["Projection"]["ProjectionType"],
                        index["Projection"].get("NonKeyAttributes", []))
                       for index in described.get("GlobalSecondaryIndexes", [])]  # fmt: skip
            self.schemas[table] = ([k["AttributeName"] for k in described["KeySchema"]], indexes)
        return self.schemas[table]

    def _image(self, params: dict[str, Any]) -> dict[str, Any]:
        keys, _ = self._schema(params["TableName"])
        key = params.get("Key") or {name: params["Item"][name] for name in keys}
        return self.raw.get_item(TableName=params["TableName"], Key=key, ConsistentRead=True).get("Item") or {}

    def _units(self, table: str, before: dict[str, Any], after: dict[str, Any]) -> int:
        keys, indexes = self._schema(table)
        total = max(1, -(-max(_item_size(before), _item_size(after)) // 1024))
        for index_keys, projection, extra in indexes:
            old, new = (self._entry(item, keys, index_keys, projection, extra) for item in (before, after))
            if old is None and new is None:
                continue
            entry = lambda item: -(-(_item_size(item) + GSI_OVERHEAD) // 1024)  # noqa: E731
            if old is None or new is None:
                total += entry(old or new)
            elif [before.get(k) for k in index_keys] != [after.get(k) for k in index_keys]:
                total += entry(old) + entry(new)  # the entry moves: a delete and a put
            elif old != new:
                total += entry(new)
        return total

    @staticmethod
    def _entry(item: dict[str, Any], keys: list[str], index_keys: list[str], projection: str,
               extra: list[str]) -> dict[str, Any] | None:  # fmt: skip
        if not item or any(k not in item for k in index_keys):
            return None  # a sparse index holds only the items with its key attributes
        if projection == "ALL":
            return dict(item)
        names = {*keys, *index_keys, *(extra if projection == "INCLUDE" else [])}
        return {k: v for k, v in item.items() if k in names}


@pytest.fixture
def write_units(aws: None, monkeypatch: pytest.MonkeyPatch) -> WriteUnits:
    """DynamoDB write units from now on, per table: `write_units.of(table)`, `write_units.clear()`."""
    import botocore.client

    meter = WriteUnits()
    monkeypatch.setattr(
        botocore.client.BaseClient, "_make_api_call", meter.wrap(botocore.client.BaseClient._make_api_call)
    )
    return meter


@pytest.fixture
def requests_made(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Every AWS request made while the test runs, counted as `service.Operation` (botocore's own names)."""
    counted: Counter[str] = Counter()
    original = botocore.client.BaseClient._make_api_call

    def counting(self: Any, operation: str, params: dict[str, Any]) -> Any:
        counted[f"{self.meta.service_model.service_name}.{operation}"] += 1
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    return counted


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Every structured log line written while the test runs, parsed (the Powertools logger's own format)."""
    from chalicelib.observability import logger

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logger._logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    logger._logger.removeHandler(handler)
