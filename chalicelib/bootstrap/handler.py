"""The bootstrap Lambda: the deploy pipeline invokes it after `chalice deploy` to sync the packaged files.

`make deploy`/`make package` copy `bootstrap/` to `chalicelib/bootstrap_files/` so Chalice packages it.
Event: `{"dryRun": false, "app": null}`; answers the plan as JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chalicelib.bootstrap.sync import run

PACKAGED = Path(__file__).resolve().parents[1] / "bootstrap_files"
CHECKOUT = Path(__file__).resolve().parents[2] / "bootstrap"


def folder() -> Path:
    return PACKAGED if PACKAGED.is_dir() else CHECKOUT


def handle(event: dict[str, Any] | None) -> dict[str, Any]:
    event = event or {}
    return run(folder(), only=event.get("app"), dry_run=bool(event.get("dryRun", False))).as_dict()
