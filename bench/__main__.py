"""`make bench`: run every benchmark in one process and write docs/benchmarks.md and docs/benchmarks.json
(machine and date included).

python -m bench                    # the full set (about 25 minutes on 2 cores)
python -m bench state              # only benchmark 8, make run's kept state (about 6 minutes): its figures
                                   # replace those in docs/benchmarks.json, and the page is written again
python -m bench --quick            # small sizes, to check the harness (prints the page, writes nothing)
python -m bench --render           # docs/benchmarks.md again from docs/benchmarks.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.report import render

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "benchmarks.md"
FIGURES = ROOT / "docs" / "benchmarks.json"
APP_ID = 1


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))  # fmt: skip
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def say(name: str, figures: Any, started: float) -> None:
    print(f"[{time.monotonic() - started:6.0f} s] {name}: {figures}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", nargs="?", choices=("all", "state", "signing"), default="all")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--render", action="store_true")
    args = parser.parse_args()
    if args.render:
        OUT.write_text(render(json.loads(FIGURES.read_text())))
        return
    if args.part == "state":
        state_only(args.quick)
        return
    if args.part == "signing":
        signing_only(args.quick)
        return
    with contextlib.redirect_stdout(sys.stderr):  # stray prints (Powertools' EMF overflow) stay off the page
        out = measure(args.quick)
    text = render(out)
    if args.quick:
        print(text)
    else:
        FIGURES.write_text(json.dumps(out, indent=1) + "\n")
        OUT.write_text(text)
        print(f"written {OUT} and {FIGURES}", file=sys.stderr)


def state_only(quick: bool) -> None:
    """Benchmark 8 alone; its figures replace the kept state's in docs/benchmarks.json (the others stay)."""
    from bench import state

    started = time.monotonic()
    with contextlib.redirect_stdout(sys.stderr):
        figures = {**state.measure(quick), "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                   "machine": machine()}  # fmt: skip
    say("state", figures, started)
    if quick:
        print(json.dumps(figures, indent=1))
        return
    out = json.loads(FIGURES.read_text())
    out["state"] = figures
    FIGURES.write_text(json.dumps(out, indent=1) + "\n")
    OUT.write_text(render(out))
    print(f"written {OUT} and {FIGURES}", file=sys.stderr)


def signing_only(quick: bool) -> None:
    """What a signed call costs, alone: the invoker's CPU per run signed and not, and the key read of a signed run;
    its figures replace `cpu.signing` in docs/benchmarks.json (the others stay)."""
    started = time.monotonic()
    from bench import jobs

    with local_aws() as (target, _), contextlib.redirect_stdout(sys.stderr):
        signed = jobs.spec(APP_ID, "t", jobs.PER_MINUTE, jobs.realistic_task(target.base))
        jobs.seed(range(600_001, 600_101), APP_ID, None, signed, snapshots=True)
        figures = signing_cpu(target.base, quick, started)
    figures.update({"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                    "machine": machine()})  # fmt: skip
    say("signing", figures, started)
    if quick:
        print(json.dumps(figures, indent=1))
        return
    out = json.loads(FIGURES.read_text())
    out["cpu"]["signing"] = figures
    FIGURES.write_text(json.dumps(out, indent=1) + "\n")
    OUT.write_text(render(out))
    print(f"written {OUT} and {FIGURES}", file=sys.stderr)


def signing_cpu(base: str, quick: bool, started: float) -> dict[str, Any]:
    """The invoker's CPU per run: jobs that sign (the application's hmac key) and the same with `sign: false`,
    interleaved (runs of the signed fleet 600_001.., seeded by the caller)."""
    from bench import cpu as children
    from bench import jobs

    unsigned = jobs.spec(APP_ID, "t", jobs.PER_MINUTE, {**jobs.realistic_task(base), "sign": False})
    jobs.seed(range(640_001, 640_101), APP_ID, None, unsigned, snapshots=True)
    found: dict[str, Any] = {"signed": [], "unsigned": [], "signatureUs": signature_cpu()}
    for name in ("unsigned", "signed", "signed", "unsigned"):
        first = 600_001 if name == "signed" else 640_001
        found[name].append(children.invoker_cpu(APP_ID, first, 100, 110 if quick else 310))
    say("cpu signing", found, started)
    return found


def signature_cpu(rounds: int = 5_000) -> dict[str, float]:
    """CPU microseconds to make the three `webhook-*` headers of a 500-byte POST, per key type."""
    from chalicelib import signing

    body = b"x" * 500
    found: dict[str, float] = {}
    for name, (material, _) in (("hmac", signing.new_hmac()), ("ed25519", signing.new_ed25519())):
        signer = signing.Signer("hmac" if name == "hmac" else "ed25519", material)
        began = time.process_time()
        for index in range(rounds):
            signing.headers(f"run_{index}", 1_800_000_000, body, [signer])
        found[name] = (time.process_time() - began) / rounds * 1e6
    return found


@contextlib.contextmanager
def local_aws() -> Iterator[tuple[Any, Any]]:
    """The bench's embedded AWS and local target, with the capacity meter installed: (target, meter)."""
    os.environ["MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR"] = "false"  # the bench empties its queue often
    from bench.local import Target, start_aws

    target = Target()
    os.environ["ALLOWED_TARGET_HOSTS"] = f"127.0.0.1:{target.port}"
    server = start_aws()
    from chalicelib.settings import get_settings
    from chalicelib.store import models

    get_settings.cache_clear()
    # moto's index query walks the whole table, under the GIL with the tick's other shard queries: at 100,000
    # stored jobs one takes longer than the stores' 10 s read timeout (a production setting). Locally only.
    models.TableMeta.read_timeout_seconds = 120
    models.reset_connections()
    from bench.meter import Meter

    meter = Meter()
    meter.install()
    try:
        yield target, meter
    finally:
        server.stop()
        target.close()


def measure(quick: bool) -> dict[str, Any]:
    started = time.monotonic()
    out: dict[str, Any] = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
                           "quick": quick}  # fmt: skip
    with local_aws() as (target, meter):
        out["units"] = units(meter, target.base, quick, started)
        out["invoker"] = invoker(meter, target.base, quick, started)
        out["cpu"] = cpu(target.base, quick, started)
        out["scaling"], out["tick"] = ticks(meter, target.base, quick, started)
    from bench.lag import run_all

    out["stack"] = run_all(quick)
    from bench import state

    out["state"] = {**state.measure(quick), "date": out["date"], "machine": out["machine"]}
    say("state", out["state"], started)
    say("total", f"{time.monotonic() - started:.0f} s", started)
    return out


def units(meter: Any, base: str, quick: bool, started: float) -> dict[str, Any]:
    """5: DynamoDB units per run (metered with item images), the tick side per pattern, the invoker side."""
    from bench import jobs
    from bench.units import invoker_side, tick_side

    meter.capacity = True
    found: dict[str, Any] = {"tick": {}}
    fleet = 10 if quick else 40
    for index, pattern in enumerate((jobs.PER_MINUTE, jobs.EVERY_5_MINUTES, jobs.HOURLY)):
        first = 500_001 + index * 1_000
        found["tick"][pattern] = tick_side(meter, APP_ID, range(first, first + fleet), pattern, base)
        say(f"units tick {pattern}", found["tick"][pattern], started)
    task = jobs.spec(APP_ID, "t", jobs.PER_MINUTE, jobs.realistic_task(base))
    runners = jobs.seed(range(600_001, 600_101), APP_ID, None, task, snapshots=True)
    found["invoker"] = invoker_side(meter, APP_ID, runners[: 30 if quick else 100])
    say("units invoker", found["invoker"], started)
    small = jobs.spec(APP_ID, "t", jobs.PER_MINUTE, jobs.realistic_task(base, path="/small"))
    answering_little = jobs.seed(range(600_301, 600_331), APP_ID, None, small, snapshots=True)
    found["small"] = invoker_side(meter, APP_ID, answering_little[: 10 if quick else 30])
    say("units small answer", found["small"], started)
    flaky = jobs.spec(APP_ID, "t", jobs.PER_MINUTE, jobs.realistic_task(base, path="/flaky"), attempts=2)
    retried = jobs.seed(range(600_201, 600_231), APP_ID, None, flaky, snapshots=True, path_per_job=True)
    found["retry"] = invoker_side(meter, APP_ID, retried[: 10 if quick else 30], retrying=True)
    say("units retry", found["retry"], started)
    meter.capacity = False
    return found


def invoker(meter: Any, base: str, quick: bool, started: float) -> dict[str, Any]:
    """3: the invoker against bare httpx, a GET and the realistic POST; requests per run with events on."""
    from bench import jobs
    from bench.engine import invoker_vs_httpx
    from bench.units import invoker_side
    from chalicelib.settings import get_settings

    runs, blocks = (60, 4) if quick else (300, 6)
    found: dict[str, Any] = {"runs": runs, "blocks": blocks}
    for name, method, first in (("get", "GET", 610_001), ("post", "POST", 620_001)):
        task = jobs.realistic_task(base, method=method)
        fleet = jobs.seed(range(first, first + 100), APP_ID, None, jobs.spec(APP_ID, "t", jobs.PER_MINUTE, task),
                          snapshots=True)  # fmt: skip
        request = {"method": method, "url": f"{base}{task['path']}", "headers": task["headers"],
                   "body": task.get("body")}  # fmt: skip
        found[name] = invoker_vs_httpx(APP_ID, [job.id for job in fleet], request, runs, blocks)
        say(f"invoker {name}", {k: v for k, v in found[name].items() if k != "blocks"}, started)
    os.environ["EXECUTION_EVENTS"] = "succeeded,failed"  # the default: one event a run, its outcome
    get_settings.cache_clear()
    try:
        eventful = jobs.seed(range(630_001, 630_021), APP_ID, None, jobs.spec(APP_ID, "t", jobs.PER_MINUTE,
                                                                           jobs.realistic_task(base)))  # fmt: skip
        found["eventsOn"] = invoker_side(meter, APP_ID, eventful)["requests"]
    finally:
        os.environ["EXECUTION_EVENTS"] = "none"
        get_settings.cache_clear()
    return found


def cpu(base: str, quick: bool, started: float) -> dict[str, Any]:
    """1 and 7: client-side CPU in child processes: tick and floor per slot (interleaved), the invoker per run,
    a cold start's import."""
    from bench import cpu as children
    from bench import jobs
    from bench.engine import phase_moment
    from bench.local import purge_queue

    due = range(700_001, 700_001 + (100 if quick else 400))
    template = jobs.spec(APP_ID, "t", jobs.PER_MINUTE, jobs.realistic_task(base))
    found: dict[str, Any] = {"due": len(due), "floor": [], "tick": []}
    for name in ("floor", "tick", "tick", "floor"):
        now, cursor = phase_moment()
        jobs.seed(due, APP_ID, cursor, template)
        figures = children.floor_cpu(now, 60_000) if name == "floor" else children.tick_cpu(now)
        found[name].append(figures)
        purge_queue()
    jobs.remove(due)
    say("cpu tick/floor", found, started)
    found["invoker"] = children.invoker_cpu(APP_ID, 600_001, 100, 110 if quick else 310)
    found["coldStart"] = children.cold_start_cpu()
    say("cpu invoker", found["invoker"], started)
    found["signing"] = signing_cpu(base, quick, started)  # what signing costs, beside the same runs unsigned
    return found


def ticks(meter: Any, base: str, quick: bool, started: float) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """2 and 1: 100 due among 1k/10k/100k stored, then the big ticks at the largest size."""
    from bench import jobs
    from bench.engine import medians, tick_vs_floor
    from bench.local import send_cost_by_depth
    from bench.meter import total

    per_minute = jobs.spec(APP_ID, "t", jobs.PER_MINUTE, jobs.realistic_task(base))
    depth = send_cost_by_depth()
    say("SendMessageBatch ms by queue depth", depth, started)
    stored_steps = [1_000, 2_000, 5_000] if quick else [1_000, 10_000, 100_000]
    scaling, seeded = [], 0
    for stored in stored_steps:
        jobs.seed(range(1 + seeded, 1 + stored), APP_ID, jobs.FAR, per_minute)
        seeded = stored
        phases = tick_vs_floor(meter, range(1, 101), APP_ID, per_minute, rounds=3)
        tick = [p for p in phases if p.name == "tick"]
        scaling.append({"stored": stored, "tick": medians(phases, "tick"), "floor": medians(phases, "floor"),
                        "dispatched": tick[0].items, "queries": tick[0].requests.get("dynamodb.Query", 0),
                        "batchGets": tick[0].requests.get("dynamodb.BatchGetItem", 0),
                        "readUnits": statistics.median(total(p.units, "RRU") for p in tick)})  # fmt: skip
        say("scaling", scaling[-1], started)
    jobs.seed(range(1, 101), APP_ID, jobs.FAR, per_minute)
    big: dict[str, Any] = {"stored": stored_steps[-1], "sendMsByDepth": depth}
    workloads = [("perMinute", jobs.PER_MINUTE, 200 if quick else 667), ("yearly", jobs.YEARLY,
                                                                           500 if quick else 10_000)]  # fmt: skip
    for name, pattern, due in workloads:
        template = jobs.spec(APP_ID, "t", pattern, jobs.realistic_task(base))
        phases = tick_vs_floor(meter, range(1, 1 + due), APP_ID, template, rounds=1)
        jobs.seed(range(1, 1 + due), APP_ID, jobs.FAR, per_minute)
        big[name] = {"due": due, **{p.name: {"seconds": p.seconds, "slots": p.items, "requests": p.requests}
                                    for p in phases}}  # fmt: skip
        say(f"tick {name}", big[name], started)
    # The same per-minute work with a 10 ms round trip on every AWS call (a Lambda's view of DynamoDB and SQS;
    # moto on loopback answers in about 1 ms): what the tick's sequential sends cost where the network is real.
    meter.latency_s = 0.010
    try:
        phases = tick_vs_floor(meter, range(1, 1 + (100 if quick else 200)), APP_ID, per_minute, rounds=1)
    finally:
        meter.latency_s = 0.0
    jobs.seed(range(1, 301), APP_ID, jobs.FAR, per_minute)
    big["roundTrip"] = {"due": 100 if quick else 200, "latencyMs": 10,
                        **{p.name: {"seconds": p.seconds, "slots": p.items, "requests": p.requests}
                           for p in phases}}  # fmt: skip
    say("tick round trip", big["roundTrip"], started)
    return scaling, big


if __name__ == "__main__":
    main()
