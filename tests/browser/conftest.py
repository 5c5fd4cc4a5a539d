"""The real stack (uvicorn + Celery worker + Redis, the real pipeline) on free ports and a headless
Chromium (Debian's ``chromium``, driven by Playwright's Python package; nothing is downloaded)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.conftest import REPO_ROOT
from tests.service.conftest import make_stack

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str:
    for exe in ("/usr/bin/chromium", shutil.which("chromium") or "", shutil.which("chromium-browser") or ""):
        if exe and Path(exe).is_file():
            return exe
    pytest.fail("Chromium is required for the browser tests (Debian's 'chromium'; .ci/run installs it)")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Screenshots and page metrics go here (CI's output folder)."""
    d = Path(os.environ.get("CI_ARTIFACTS") or REPO_ROOT / "out" / "ci-artifacts")
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture(scope="module")
def web_stack(tmp_path_factory):
    with make_stack(tmp_path_factory.mktemp("web")) as s:
        yield s


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture()
def new_page(browser):
    """``new_page(viewport)``: a page in a fresh context (own storage); page errors fail the test."""
    contexts, errors = [], []

    def make(viewport=DESKTOP):
        ctx = browser.new_context(viewport=viewport, accept_downloads=True)
        contexts.append(ctx)
        page = ctx.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.set_default_timeout(15_000)
        return page

    yield make
    for ctx in contexts:
        ctx.close()
    assert not errors, errors
