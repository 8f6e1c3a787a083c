"""The environment a Chalice stage gives its functions (from .chalice/config.json), for local tools."""

from __future__ import annotations

import json
import os
from pathlib import Path

CONFIG = Path(__file__).resolve().parents[1] / ".chalice" / "config.json"


def stage_environment(stage: str = "dev") -> dict[str, str]:
    config = json.loads(CONFIG.read_text())
    return {**config.get("environment_variables", {}), **config["stages"][stage].get("environment_variables", {})}


def apply_stage_environment(stage: str = "dev") -> None:
    """Fill in the stage's variables that the caller has not set (explicit settings win)."""
    for name, value in stage_environment(stage).items():
        os.environ.setdefault(name, value)
