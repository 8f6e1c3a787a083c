"""Chalice app: registers the API blueprints, the minute tick and the invoker. Wiring only."""

from dataclasses import asdict
from typing import Any

from chalice import Chalice, Rate

from chalicelib.api import (
    applications,
    backfills,
    channels,
    cron,
    executions,
    jobs,
    routing,
    signing_keys,
    stats,
    system,
    ui,
    variables,
)
from chalicelib.bootstrap import handler as bootstrap
from chalicelib.engine import tick as engine
from chalicelib.invoker import dead_letters
from chalicelib.invoker import run as invoker
from chalicelib.settings import get_settings

app = Chalice(app_name="scheduler")
for blueprint in (system.bp, applications.bp, variables.bp, signing_keys.bp, channels.bp, jobs.bp, executions.bp,
                  backfills.bp, stats.bp, cron.bp, ui.bp):  # fmt: skip
    app.register_blueprint(blueprint)
app.register_middleware(routing.chalice_errors, "http")


@app.schedule(Rate(1, unit=Rate.MINUTES))
def tick(event: Any) -> dict[str, Any]:
    return asdict(engine.tick())


# Runs, and the tick's fanned-out shards (the engine's work, routed back to it). The queue is named at import:
# `make package`/`make deploy` set INVOKER_QUEUE_NAME for the stage.
@app.on_sqs_message(queue=get_settings().invoker_queue_name, batch_size=10)
def invoke(event: Any) -> dict[str, Any]:
    return invoker.handle_batch([record.to_dict() for record in event], shards=engine.handle)


# A run message that failed every delivery: its run ends failed (LOST), with its event and count.
@app.on_sqs_message(queue=get_settings().dead_letter_queue_name, batch_size=10)
def dead_letters_handler(event: Any) -> dict[str, Any]:
    return dead_letters.handle([record.to_dict() for record in event])


@app.lambda_function(name="bootstrap")
def bootstrap_sync(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return bootstrap.handle(event)
