"""A real headless Chromium (Debian's package, driven by Playwright) against the real `make run` stack.

`make test` installs Chromium when it is missing (`apt-get install chromium`, as root, as in CI). Set
SCREENSHOTS=1 (`make screenshots`) to write the pictures in docs/ that the README shows.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, local_stack

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with local_stack(tmp_path_factory.mktemp("stack"), jwt_secret=None) as running:
        assert running["sign_in"], "make run printed no sign-in link"
        yield running


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `apt-get install chromium` (make test does, as root)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any, stack: dict[str, Any]) -> Iterator[Any]:
    """A fresh browser profile (no cookies), with script errors and dialogs recorded."""
    context = chromium.new_context(viewport={"width": 1280, "height": 860}, locale="en-US", timezone_id="Europe/Berlin")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.errors = []
    page.dialogs = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))

    def on_dialog(dialog: Any) -> None:
        page.dialogs.append((dialog.type, dialog.message))
        dialog.accept()

    page.on("dialog", on_dialog)
    yield page
    context.close()


def screenshot(page: Any, name: str) -> None:
    if os.environ.get("SCREENSHOTS") == "1":
        page.screenshot(path=str(DOCS / f"ui-{name}.png"), full_page=True)
