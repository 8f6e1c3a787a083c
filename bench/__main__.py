"""`make bench`: run every benchmark in one process and write docs/benchmarks.md (machine and date included).

python -m bench                    # the full set (about 15 minutes on 2 cores)
python -m bench --quick            # small sizes, to check the harness (not written to docs/)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "benchmarks.md"
FIGURES = ROOT / "docs" / "benchmarks.json"


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))  # fmt: skip
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def per(phase: Any, key: str, count: int) -> float:
    return phase.requests.get(key, 0) / count if count else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--render", action="store_true")
    args = parser.parse_args()
    if args.render:
        OUT.write_text(render(json.loads(FIGURES.read_text())))
        return
    quick = args.quick
    stored_steps = [1_000, 2_000, 5_000] if quick else [1_000, 10_000, 100_000]
    big_due = 500 if quick else 10_000
    invoker_runs = 50 if quick else 300
    lag_seconds = 45 if quick else 150

    from bench.local import Target, start_aws

    server = start_aws()
    target = Target()
    from bench import engine
    from bench.meter import Meter

    meter = Meter()
    meter.install()
    meter.capacity = False
    app_id = 1
    out: dict[str, Any] = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine()}

    # 2. scaling: a fixed 100 due among 1k / 10k / 100k stored
    scaling, seeded = [], 0
    for stored in stored_steps:
        engine.seed(range(1 + seeded, 1 + stored), app_id, engine.FAR, target.base)
        seeded = stored
        phases = engine.tick_vs_floor(meter, 100, range(1, 1 + stored), app_id, target.base, rounds=3)
        tick_s = statistics.median(p.seconds for p in phases if p.name == "tick")
        floor_s = statistics.median(p.seconds for p in phases if p.name == "floor")
        tick = next(p for p in phases if p.name == "tick")
        scaling.append({"stored": stored, "tick": tick_s, "floor": floor_s, "dispatched": tick.items,
                        "queries": tick.requests.get("dynamodb.Query", 0),
                        "readUnits": sum(v for k, v in tick.units.items() if k.startswith("RRU"))})  # fmt: skip
        print(f"scaling {scaling[-1]}", file=sys.stderr, flush=True)
    out["scaling"] = scaling

    # 1. tick cost: big_due due among the largest stored
    phases = engine.tick_vs_floor(meter, big_due, range(1, 1 + stored_steps[-1]), app_id, target.base, rounds=1)
    floor, tick = phases
    out["tick"] = {"due": big_due, "stored": stored_steps[-1], "floor": floor.seconds, "tick": tick.seconds,
                   "dispatched": tick.items, "floorRequests": dict(floor.requests),
                   "tickRequests": dict(tick.requests)}  # fmt: skip
    print(f"tick {out['tick']}", file=sys.stderr, flush=True)

    # CPU per run on the client side (child processes; moto's CPU is not in it)
    from bench import cpu
    from chalicelib.clock import now_ms

    cpu_due = range(1, 1 + min(2_000, big_due))
    out["cpu"] = {}
    for name, measure in (("floor", cpu.floor_cpu), ("tick", cpu.tick_cpu)):
        slot = now_ms() - 1_000
        engine.seed(cpu_due, app_id, slot, target.base)
        out["cpu"][name] = measure()
        engine.forget_runs(cpu_due, slot)
    engine.seed(range(900_000_001, 900_000_002), app_id, engine.FAR, target.base)
    out["cpu"]["invoker"] = cpu.invoker_cpu(900_000_001, app_id, 210)
    print(f"cpu {out['cpu']}", file=sys.stderr, flush=True)

    # write units per run on the tick side, metered on a small tick
    meter.capacity = True
    small = engine.tick_vs_floor(meter, 100, range(1, 1 + stored_steps[-1]), app_id, target.base, rounds=1)[1]
    tick_wru = sum(v for k, v in small.units.items() if k.startswith("WRU")) / max(1, small.items)
    tick_rru = sum(v for k, v in small.units.items() if k.startswith("RRU")) / max(1, small.items)
    out["tickUnits"] = {
        "wru": tick_wru,
        "rru": tick_rru,
        "byTable": {k: v / small.items for k, v in small.units.items()},
    }
    meter.capacity = False

    # 3. invoker against bare httpx
    httpx_phase, invoker_phase, durations = engine.invoker_vs_httpx(meter, app_id, target.base, invoker_runs)
    meter.capacity = True
    _, metered, _ = engine.invoker_vs_httpx(meter, app_id, target.base, 50)
    meter.capacity = False
    runs = metered.items
    out["invoker"] = {
        "runs": invoker_runs, "httpx": httpx_phase.seconds / invoker_runs,
        "invoker": invoker_phase.seconds / invoker_runs,
        "median": statistics.median(durations), "requests": {k: v / runs for k, v in metered.requests.items()},
        "units": {k: v / runs for k, v in metered.units.items()},
    }  # fmt: skip
    print(f"invoker {out['invoker']}", file=sys.stderr, flush=True)
    target.close()
    server.stop()

    # 4. fire lag through the local stack
    from bench.lag import fire_lag

    out["lag"] = fire_lag(seconds=lag_seconds)
    print(f"lag {out['lag']}", file=sys.stderr, flush=True)

    text = render(out)
    if quick:
        print(text)
    else:
        FIGURES.write_text(json.dumps(out, indent=1) + "\n")
        OUT.write_text(text)
        print(f"written {OUT}", file=sys.stderr)


def render(out: dict[str, Any]) -> str:
    from bench.cost import PerRun, lambda_gb_seconds, per_million

    tick, inv = out["tick"], out["invoker"]
    dispatched = max(1, tick["dispatched"])
    tick_requests = {k: v / dispatched for k, v in tick["tickRequests"].items()}
    inv_wru = sum(v for k, v in inv["units"].items() if k.startswith("WRU"))
    inv_rru = sum(v for k, v in inv["units"].items() if k.startswith("RRU"))
    sends = tick_requests.get("sqs.SendMessageBatch", 0)
    batch = 10
    cpu = {name: v["cpu"] / max(1, v["runs"]) for name, v in out["cpu"].items()}
    gb_seconds = lambda_gb_seconds(cpu["invoker"] + cpu["tick"], wait_seconds=0.5, memory_gb=0.5, runs_per_batch=batch)
    run = PerRun(
        wru=out["tickUnits"]["wru"] + inv_wru,
        rru=out["tickUnits"]["rru"] + inv_rru,
        sqs_requests=sends + 2 / batch,  # + Lambda's receive and delete, one each per batch of 10
        lambda_invocations=1 / batch,
        lambda_gb_seconds=gb_seconds,
        events=inv["requests"].get("events.PutEvents", 0),
    )
    lean = PerRun(**{**run.__dict__, "wru": 3.2, "events": 0})
    lean_od, lean_pr = (per_million(lean, provisioned=p, with_events=False) for p in (False, True))
    small = lambda_gb_seconds(cpu["invoker"] + cpu["tick"], wait_seconds=0.5, memory_gb=0.128, runs_per_batch=batch)
    leaner = PerRun(**{**lean.__dict__, "lambda_gb_seconds": small})
    leaner_od, leaner_pr = (per_million(leaner, provisioned=p, with_events=False, arm=True) for p in (False, True))
    # The least any design with a per-run history in DynamoDB can cost: a conditional write that claims and
    # starts the run, its one index entry, the finish; no tick work; the invoker's own CPU at 128 MB arm64.
    bare = lambda_gb_seconds(cpu["invoker"], wait_seconds=0.5, memory_gb=0.128, runs_per_batch=batch)
    least = PerRun(**{**leaner.__dict__, "wru": 3.0, "rru": 1.0, "lambda_gb_seconds": bare})
    least_od, least_pr = (per_million(least, provisioned=p, with_events=False, arm=True) for p in (False, True))
    rows = {
        "on-demand, events on": per_million(run, provisioned=False, with_events=True),
        "on-demand, events off": per_million(run, provisioned=False, with_events=False),
        "provisioned, events on": per_million(run, provisioned=True, with_events=True),
        "provisioned, events off": per_million(run, provisioned=True, with_events=False),
    }
    lines = [
        "# Benchmarks",
        "",
        f"Run with `make bench` on {out['date']}; machine: {out['machine']}.",
        "AWS is moto's server over HTTP in the same process (as `make run` uses). Each figure of ours is taken in",
        "the same run as its floor, so moto's own costs largely cancel out of the ratio; absolute times are moto's",
        "and say little about AWS. moto's SQS approximate-size attributes are answered in O(1) here (see",
        "`bench/local.py`: the engine never reads them, and moto's per-message walk would swamp everything else).",
        "",
        "## 1. Tick cost",
        "",
        f"{tick['due']:,} due jobs among {tick['stored']:,} stored, one tick against the floor: the bare boto3",
        "calls the same work needs (one query per shard, paged; a conditional put per slot; SendMessageBatch of 10;",
        "a conditional update per job), with the same 16 threads.",
        "",
        "| | seconds | requests |",
        "|---|---:|---|",
        f"| floor | {tick['floor']:.1f} | {fmt_requests(tick['floorRequests'])} |",
        f"| tick | {tick['tick']:.1f} | {fmt_requests(tick['tickRequests'])} |",
        f"| **ratio** | **{tick['tick'] / tick['floor']:.2f}x** (target ≤ 1.5x) | |",
        "",
        f"The tick dispatched {tick['dispatched']:,} runs.",
        "",
        "CPU on the client side (our code and botocore; the tick and the floor each in a child process, moto's",
        f"CPU not included), over {out['cpu']['tick']['runs']:,} due runs:",
        "",
        "| | CPU ms per run | wall s |",
        "|---|---:|---:|",
        *(
            f"| {name} | {v['cpu'] * 1000 / max(1, v['runs']):.2f} | {v['wall']:.1f} |"
            for name, v in out["cpu"].items()
        ),
        "",
        f"Ratio of CPU, tick to floor: **{cpu_ratio(out):.2f}x**. The invoker row is a whole run (read the job,",
        "take the run, resolve, guard, call, record, publish), in batches of 10 as the SQS handler gets them.",
        "",
        "## 2. Scaling with stored jobs (100 due)",
        "",
        "Median of 3 ticks and 3 floors at each size. On AWS a Query reads only what it returns; moto's index",
        "query walks the whole table, so the absolute times grow here while the work (queries, read units) does",
        "not: the read units are the O(due) proof, the ratio the check that our code adds nothing that grows.",
        "",
        "| stored | tick s | floor s | ratio | queries | read units | dispatched |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in out["scaling"]:
        ratio = row["tick"] / row["floor"]
        lines.append(f"| {row['stored']:,} | {row['tick']:.2f} | {row['floor']:.2f} | {ratio:.2f}x "
                     f"| {row['queries']} | {row['readUnits']:.1f} | {row['dispatched']} |")  # fmt: skip
    lines += [
        "",
        "## 3. Invoker overhead",
        "",
        f"{inv['runs']} scheduled runs through the invoker (`run_message`, one after another: read the job, take",
        "the run, resolve, guard, call, record, count, publish) against the same number of bare `httpx.get` calls",
        "to the same local target.",
        "",
        "| | ms per run |",
        "|---|---:|",
        f"| bare httpx | {inv['httpx'] * 1000:.1f} |",
        f"| invoker | {inv['invoker'] * 1000:.1f} |",
        f"| **ratio** | **{inv['invoker'] / inv['httpx']:.1f}x** |",
        "",
        f"Requests per run (invoker): {fmt_requests(inv['requests'], digits=2)}.",
        f"Requests per run (tick, at {tick['due']:,} due): {fmt_requests(tick_requests, digits=3)}.",
        "",
        "## 4. Fire lag through the local stack",
        "",
        f"{out['lag']['jobs']} jobs on `N/5 * * * * *` patterns (every 5 s, spread over 5 offsets) for "
        f"{out['lag']['seconds']} s through `python -m chalicelib.local` (what `make run` runs): the minute tick,",
        "SQS with delays, 4 pollers, the invoker; lag = start of the call minus the slot.",
        "",
        "| slots | p50 ms | p99 ms | max ms |",
        "|---:|---:|---:|---:|",
        f"| {out['lag']['slots']} | {out['lag']['p50']} | {out['lag']['p99']} | {out['lag']['max']} |",
        "",
        "Target: p99 < 1 s.",
        "",
        "## 5. Cost per million runs",
        "",
        f"Per run, counted: **{run.wru:.1f} write units** (tick {out['tickUnits']['wru']:.1f}, invoker "
        f"{inv_wru:.1f}), {run.rru:.2f} read units, {run.sqs_requests:.2f} SQS requests, {run.events:.0f} "
        f"EventBridge events; Lambda {run.lambda_gb_seconds:.4f} GB-s per run.",
        "",
        "Write units by table (tick side, per run): "
        + ", ".join(
            f"{k.split(':', 1)[1].rsplit('-', 1)[1]} {v:.2f}"
            for k, v in sorted(out["tickUnits"]["byTable"].items())
            if k.startswith("WRU")
        )
        + "; invoker side: "
        + ", ".join(
            f"{k.split(':', 1)[1].rsplit('-', 1)[1]} {v:.2f}"
            for k, v in sorted(inv["units"].items())
            if k.startswith("WRU")
        )
        + ".",
        "",
        "Assumptions: us-east-1 list prices (`bench/cost.py`). Lambda x86: the measured CPU of the tick and the",
        "invoker per run (section 1) billed at 1.769 GB-s per CPU-second (CPU share grows with memory, so this",
        "part does not depend on the memory size), plus the mean 0.5 s floor-second wait at the invoker's 512 MB",
        "shared by the 10 runs of a full batch; the target's own answer time is not included. SQS receive and",
        "delete one request each per batch of 10. Provisioned capacity bought at 70 % utilisation.",
        "",
        "| $ per million runs | DynamoDB | SQS | Lambda | EventBridge | **total** | target |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, line in rows.items():
        goal = "≤ 2.50" if name.startswith("on-demand") else "≤ 1.00"
        lines.append(f"| {name} | {line['DynamoDB']:.2f} | {line['SQS']:.2f} | {line['Lambda']:.2f} | "
                     f"{line['EventBridge']:.2f} | **{line['total']:.2f}** | {goal} |")  # fmt: skip
    lines += [
        "",
        "Anchors: EventBridge Scheduler $1.00/M for scheduling alone; EventBridge Scheduler → Lambda → history",
        "in DynamoDB about $2.5-3/M; QStash $10/M. Not in the table: CloudWatch Logs ingestion ($0.50/GB; one",
        "JSON line per run, ~600 bytes, is ~$0.30/M) and X-Ray traces if sampled.",
        "",
        "### Why the targets are missed, and what it would take",
        "",
        f"DynamoDB is most of the bill: {run.wru:.1f} write units at $0.625 per million each. The current design",
        "writes, per run: the execution's claim, start and finish (3), its application-index entry (1), its",
        "in-flight-index entry and removal (2), and the job's advance with its due-index entry moving (3). Meeting",
        "$2.50/M on-demand with Lambda and SQS included leaves room for about 3 write units. A leaner design",
        "(not built: it changes behaviour that issue 6 itself specifies, so it is a product decision):",
        "",
        "1. Claim a job's slots for the whole SQS delay window (up to 15 minutes) in one conditional advance, so",
        "   the job write and its index move are shared by up to 15 runs of a per-minute job (3 → ~0.2).",
        "2. No pending record: the invoker's start is the conditional put that claims the run (a duplicate",
        "   delivery is still dropped), and a dead invoker is found by SQS redelivering its message rather than",
        "   by the in-flight index (-3; pending runs would no longer be listed before they start).",
        "3. Start, finish and one index entry remain: ~3.2 write units. With everything else as measured here,",
        f"   that is ${lean_od['total']:.2f}/M on-demand and ${lean_pr['total']:.2f}/M provisioned with events off.",
        f"4. Lambda is then the next lever (${lean_od['Lambda']:.2f}/M: the CPU, and the floor-second wait at",
        "   512 MB). An invoker at 128 MB on arm64 would bring the totals to",
        f"   ${leaner_od['total']:.2f}/M on-demand and ${leaner_pr['total']:.2f}/M provisioned.",
        "",
        "So even with that redesign and the run events off, the on-demand target is "
        f"{'met' if leaner_od['total'] <= 2.5 else 'missed by a little'},",
        f"and the provisioned one is {'met' if leaner_pr['total'] <= 1.0 else 'out of reach'} with a DynamoDB "
        "history written per run at today's prices:",
        "about 3 write units alone cost ~$0.8/M provisioned before any compute.",
        "",
        "The least any design can cost that keeps a per-run history in DynamoDB and calls each slot once: one",
        "conditional write that claims and starts the run (it must precede the call, or a duplicate delivery",
        "calls twice), its one index entry, the finish; no tick writes at all; the invoker's own CPU alone, at",
        f"128 MB on arm64: ${least_od['total']:.2f}/M on-demand and ${least_pr['total']:.2f}/M provisioned",
        f"(DynamoDB ${least_pr['DynamoDB']:.2f}, SQS ${least_pr['SQS']:.2f}, Lambda ${least_pr['Lambda']:.2f}). "
        f"So the provisioned target is {'within' if least_pr['total'] <= 1.0 else 'beyond'} the reach of every",
        "such design at list prices and 70 % utilisation: it needs the history somewhere cheaper than a DynamoDB",
        "item per run, reserved capacity, or a different target.",
        "",
        "Run events cost $1 per million each on top; `EXECUTION_EVENTS` lets a deployment keep only failures.",
        "",
    ]
    return "\n".join(lines)


def cpu_ratio(out: dict[str, Any]) -> float:
    per = {name: v["cpu"] / max(1, v["runs"]) for name, v in out["cpu"].items()}
    return float(per["tick"] / per["floor"])


def fmt_requests(requests: dict[str, float], digits: int = 0) -> str:
    return ", ".join(f"{k.split('.', 1)[1]} {v:,.{digits}f}" for k, v in sorted(requests.items()))


if __name__ == "__main__":
    main()
