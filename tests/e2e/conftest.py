"""End-to-end fixtures: a real `mixun serve` in a temp data dir, driven by Debian's Chromium."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e_support import CHROMIUM, CHROMIUM_ARGS, MixunServer, _skip_reason  # noqa: E402


def pytest_collection_modifyitems(config, items):
    reason = _skip_reason()
    if reason:
        for item in items:
            if "e2e" in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def browser():
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _server(tmp_path_factory, env=None) -> MixunServer:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    s = MixunServer(tmp_path_factory.mktemp("mixun"), env=env)
    s.start()
    return s


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    s = _server(tmp_path_factory)
    yield s
    s.stop()


@pytest.fixture
def own_server(tmp_path_factory):
    """A server of the test's own (for restarts)."""
    s = _server(tmp_path_factory)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def scanned_server(tmp_path_factory, clamd_socket):
    """A server with a real clamd behind it (tests/conftest.py starts one), for file tests."""
    s = _server(tmp_path_factory, env={"MIXUN_CLAMD_SOCKET": clamd_socket})
    yield s
    s.stop()


@pytest.fixture
def make_page(browser):
    """Opens pages in fresh browser contexts; records dialogs (none may fire) and page errors."""
    contexts = []

    def _make(base: str):
        ctx = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
        contexts.append(ctx)
        page = ctx.new_page()
        page.dialogs = []  # type: ignore[attr-defined]
        page.errors = []  # type: ignore[attr-defined]

        def on_dialog(d):
            page.dialogs.append(d.message)
            d.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        page.set_default_timeout(15000)
        page.goto(base + "/")
        return page

    yield _make
    for c in contexts:
        c.close()
