"""The console in a real browser (Debian's Chromium through Playwright) on the real gateway in
front of the real model server: sign in, keys, the playground streaming a real answer, revoking,
and markup in data rendering as text. Each page's screenshot is saved (``INFERSTACK_SCREENSHOTS``
names the folder, else pytest's tmp dir); ``docs/console/`` holds the committed ones."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect, sync_playwright

from support.gateway import Gateway, start_gateway, stop_gateway

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
XSS = "<script>alert('xss')</script><img src=x onerror=alert(1)>"
TIMEOUT_MS = 120_000
expect.set_options(timeout=TIMEOUT_MS)  # the model shares two cores with everything else


@pytest.fixture(scope="module")
def gateway(chat_server, tmp_path_factory) -> Iterator[Gateway]:
    gw = start_gateway(
        tmp_path_factory.mktemp("console-gw"), chat_server.url, chat_server.model, None
    )
    yield gw
    stop_gateway(gw)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("INFERSTACK_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(browser: Browser) -> Iterator[tuple[Page, list[Dialog]]]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    dialogs: list[Dialog] = []

    def on_dialog(dialog: Dialog) -> None:  # an alert() from injected script would land here
        dialogs.append(dialog)
        dialog.dismiss()

    tab.on("dialog", on_dialog)
    errors: list[Any] = []
    tab.on("pageerror", lambda error: errors.append(error))
    yield tab, dialogs
    context.close()
    assert not errors, errors


def sign_in(page: Page, gw: Gateway, key: str) -> None:
    page.goto(gw.url + "/ui/")
    page.get_by_label("API key (master or virtual)").fill(key)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_test_id("who")).to_be_visible()


def chat(page: Page, prompt: str) -> None:
    page.get_by_test_id("prompt").fill(prompt)
    page.get_by_test_id("send").click()


def test_keys_playground_and_revoke_in_the_browser(gateway: Gateway, page, shots: Path) -> None:
    tab, dialogs = page
    tab.goto(gateway.url + "/ui/")
    expect(tab.get_by_role("heading", name="Sign in to inferstack")).to_be_visible()
    tab.screenshot(path=str(shots / "login.png"))
    sign_in(tab, gateway, gateway.master)

    # a key whose alias is markup: it shows as text, and nothing runs
    tab.goto(gateway.url + "/ui/#/keys")
    form = tab.get_by_test_id("key-form")
    form.get_by_label("Alias").fill(XSS)
    form.get_by_label("Models (comma-separated; empty = all)").fill("chat")
    form.get_by_label("Max budget (USD)").fill("5")
    form.get_by_label("RPM limit").fill("60")
    form.get_by_label("Expires after").fill("1d")
    form.get_by_role("button", name="Create key").click()
    secret = tab.get_by_test_id("new-key").inner_text()
    assert secret.startswith("sk-")
    expect(tab.get_by_test_id("key-alias").first).to_have_text(XSS)
    assert tab.locator("img[src=x]").count() == 0
    tab.screenshot(path=str(shots / "keys.png"), full_page=True)

    # the playground with that key: a real answer streamed from the real model
    tab.goto(gateway.url + "/ui/#/playground")
    tab.get_by_label("API key").fill(secret)
    tab.get_by_label("API key").dispatch_event("change")
    expect(tab.get_by_test_id("model")).to_have_value("chat")
    tab.get_by_label("Temperature").fill("0")
    tab.get_by_label("Max tokens").fill("16")
    chat(tab, f"Repeat after me: {XSS}")
    expect(tab.get_by_test_id("finish")).to_contain_text("tokens")
    user = tab.get_by_test_id("msg-user").first.locator(".content")
    expect(user).to_have_text(f"Repeat after me: {XSS}")
    answer = tab.get_by_test_id("msg-assistant").locator(".content").inner_text()
    assert answer.strip()
    assert tab.locator("#main script, #main img").count() == 0
    tab.screenshot(path=str(shots / "playground.png"), full_page=True)

    # revoke it on the keys page; the playground then refuses the key
    tab.goto(gateway.url + "/ui/#/keys")
    revoke = tab.get_by_role("row").filter(has_text=XSS).get_by_role("button", name="Revoke")
    revoke.click()
    tab.get_by_role("button", name="Confirm revoke").click()
    expect(tab.get_by_role("row").filter(has_text=XSS).get_by_text("revoked")).to_be_visible()
    tab.goto(gateway.url + "/ui/#/playground")
    tab.get_by_label("API key").fill(secret)
    tab.get_by_label("API key").dispatch_event("change")
    expect(tab.get_by_test_id("playground-error")).to_contain_text("401")
    chat(tab, "Hello?")
    expect(tab.get_by_test_id("playground-error")).to_contain_text("revoked")

    # signing out ends the session: the admin API no longer takes the cookie
    tab.get_by_role("button", name="Sign out").click()
    expect(tab.get_by_role("heading", name="Sign in to inferstack")).to_be_visible()
    assert tab.request.get(gateway.url + "/key/list").status == 401
    assert not dialogs, [d.message for d in dialogs]
