"""The console in a real browser (Debian's Chromium through Playwright) on the real gateway in
front of the real model server: sign in, keys, the playground streaming a real answer, revoking,
and markup in data rendering as text. Each page's screenshot is saved (``INFERSTACK_SCREENSHOTS``
names the folder, else pytest's tmp dir); ``docs/console/`` holds the committed ones."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect, sync_playwright

from support.gateway import Gateway, start_gateway, stop_gateway
from support.otlp import OtlpReceiver
from support.servers import RunningServer
from support.services import wait_until

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
XSS = "<script>alert('xss')</script><img src=x onerror=alert(1)>"
TEAM = "Research <b>team</b>"
PASSWORD = "carol-" + secrets.token_hex(8)
TIMEOUT_MS = 120_000
expect.set_options(timeout=TIMEOUT_MS)  # the model shares two cores with everything else


@pytest.fixture(scope="module")
def traces() -> Iterator[OtlpReceiver]:
    """Where the gateway exports its traces (an OTLP/HTTP receiver on 127.0.0.1)."""
    with OtlpReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def gateway(chat_server, traces: OtlpReceiver, tmp_path_factory) -> Iterator[Gateway]:
    """The gateway, tracing to ``traces``, its console linking logs to a trace UI there."""
    endpoint = f"http://127.0.0.1:{traces.port}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint + "/v1/traces")
        gw = start_gateway(
            tmp_path_factory.mktemp("console-gw"),
            chat_server.url,
            chat_server.model,
            None,
            console={"trace_url_template": endpoint + "/traces/{trace_id}"},
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


def create_team_and_user(tab: Page, gw: Gateway, shots: Path) -> None:
    tab.goto(gw.url + "/ui/#/teams")
    team = tab.get_by_test_id("team-form")
    team.get_by_label("Team name").fill(TEAM)
    team.get_by_label("Max budget (USD)").fill("50")
    team.get_by_role("button", name="Create team").click()
    expect(tab.get_by_test_id("team-alias")).to_have_text(TEAM)
    user = tab.get_by_test_id("user-form")
    user.get_by_label("User id").fill("carol")
    user.get_by_label("Email").fill("carol@example.com")
    user.get_by_label("Role").select_option("internal_user")
    user.get_by_label("Password (optional)").fill("first-" + PASSWORD)
    user.get_by_role("button", name="Create user").click()
    expect(tab.get_by_test_id("user-id")).to_have_text("carol")
    carol = tab.get_by_role("row").filter(has=tab.get_by_test_id("user-id"))
    carol.get_by_label("new password").fill(PASSWORD)  # the admin resets it: the new one counts
    carol.get_by_role("button", name="Save").click()
    expect(carol.get_by_label("new password")).to_have_value("")  # saved: the list re-rendered
    row = tab.get_by_role("row").filter(has_text=TEAM)
    row.get_by_label("user id").fill("carol")
    row.get_by_role("button", name="Add").click()
    expect(tab.get_by_role("row").filter(has_text=TEAM)).to_contain_text("carol (user)")
    tab.screenshot(path=str(shots / "teams.png"), full_page=True)


def create_key(tab: Page, gw: Gateway, shots: Path) -> str:
    """A key for carol in the team, whose alias is markup: it shows as text, nothing runs."""
    tab.goto(gw.url + "/ui/#/keys")
    form = tab.get_by_test_id("key-form")
    form.get_by_label("Alias").fill(XSS)
    form.get_by_label("Models (comma-separated; empty = all)").fill("chat")
    form.get_by_label("Max budget (USD)").fill("5")
    form.get_by_label("RPM limit").fill("60")
    form.get_by_label("Expires after").fill("1d")
    form.get_by_label("Team").select_option(label=TEAM)
    form.get_by_label("User").fill("carol")
    form.get_by_role("button", name="Create key").click()
    secret = tab.get_by_test_id("new-key").inner_text()
    assert secret.startswith("sk-")
    row = tab.get_by_role("row").filter(has_text=XSS)
    expect(row.get_by_test_id("key-alias")).to_have_text(XSS)
    expect(row).to_contain_text("carol")
    assert tab.locator("#main script, #main img").count() == 0
    tab.screenshot(path=str(shots / "keys.png"), full_page=True)
    return secret


def use_key(tab: Page, secret: str) -> None:
    tab.get_by_label("API key").fill(secret)
    tab.get_by_label("API key").dispatch_event("change")


def playground(tab: Page, gw: Gateway, secret: str, shots: Path) -> None:
    """A real answer streamed from the real model; the prompt's markup shows as text."""
    tab.goto(gw.url + "/ui/#/playground")
    use_key(tab, secret)
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


def json_mode_and_tools(tab: Page) -> None:
    """JSON mode answers with a JSON object; with tools (choice required) the model calls one."""
    tab.get_by_role("button", name="New chat").click()
    tab.get_by_test_id("json-mode").check()
    tab.get_by_label("Max tokens").fill("32")
    chat(tab, "The capital of France as JSON:")
    expect(tab.get_by_test_id("finish")).to_contain_text("tokens")
    reply = tab.get_by_test_id("msg-assistant").locator(".content").inner_text()
    assert reply.lstrip().startswith("{"), reply
    tab.get_by_test_id("json-mode").uncheck()
    tab.get_by_role("button", name="New chat").click()
    tab.get_by_test_id("use-tools").check()
    tab.get_by_label("Tool choice").select_option("required")
    tab.get_by_label("Max tokens").fill("48")
    chat(tab, "What is the weather in Paris?")
    call = tab.get_by_test_id("tool-call").inner_text()
    name, _, args = call.partition("(")
    assert name == "get_weather", call
    assert isinstance(json.loads(args.removesuffix(")"))["city"], str)
    tab.get_by_test_id("use-tools").uncheck()
    tab.get_by_role("button", name="New chat").click()


def usage_shows(tab: Page, gw: Gateway, group_by: str, name: str) -> None:
    """The usage page, grouped by ``group_by``, until the rollups show ``name`` with spend."""
    tab.goto(gw.url + "/ui/#/usage")
    tab.get_by_test_id("group-by").select_option(group_by)
    top = tab.get_by_test_id("top-group").filter(has_text=name)
    for _ in range(60):  # the usage recorder writes in the background: refresh until it has
        if top.count():
            break
        tab.get_by_role("button", name="Refresh").click()
        tab.wait_for_timeout(500)
    expect(top).to_be_visible()
    expect(tab.get_by_test_id("total-requests")).not_to_have_text("0")
    expect(tab.get_by_test_id("total-spend")).not_to_have_text("$0.000000")
    expect(tab.get_by_test_id("chart-requests")).to_be_visible()


def add_model_and_use_it(tab: Page, gw: Gateway, server: RunningServer, shots: Path) -> None:
    """A deployment added on the models page is routable at once (no restart)."""
    tab.goto(gw.url + "/ui/#/models")
    form = tab.get_by_test_id("model-form")
    form.get_by_label("Model group").fill("live")
    form.get_by_label("Upstream model").fill(server.model)
    form.get_by_label("API base").fill(server.url + "/v1")
    form.get_by_label("Access groups (comma-separated)").fill("console-test")
    form.get_by_role("button", name="Add deployment").click()
    row = tab.get_by_role("row").filter(has_text="added at run time")
    expect(row.get_by_test_id("model-name")).to_have_text("live")
    expect(row).to_contain_text("console-test")
    tab.screenshot(path=str(shots / "models.png"), full_page=True)
    tab.goto(gw.url + "/ui/#/playground")  # the session's own playground key: every model
    tab.get_by_test_id("model").select_option("live")
    tab.get_by_label("Max tokens").fill("8")
    chat(tab, "Hello")
    expect(tab.get_by_test_id("finish")).to_contain_text("tokens")
    tab.get_by_role("button", name="New chat").click()
    # edit it (the gateway re-reads it at once), then delete it
    tab.goto(gw.url + "/ui/#/models")
    row = tab.get_by_role("row").filter(has_text="added at run time")
    row.get_by_label("api_base").fill("http://127.0.0.1:9/v1")
    row.get_by_role("button", name="Save").click()
    expect(row.get_by_label("api_base")).to_have_value("http://127.0.0.1:9/v1")
    tab.reload()
    row = tab.get_by_role("row").filter(has_text="added at run time")
    expect(row.get_by_label("api_base")).to_have_value("http://127.0.0.1:9/v1")
    row.get_by_role("button", name="Delete").click()
    row.get_by_role("button", name="Confirm delete").click()
    expect(tab.get_by_text("added at run time")).to_have_count(0)


def api_calls(tab: Page) -> list[str]:
    """The paths of the API calls the page makes from now on (not its static assets)."""
    calls: list[str] = []

    def seen(request: Any) -> None:
        path = request.url.split("://", 1)[1].split("/", 1)[1].split("?")[0]
        if not path.startswith("ui/static/"):
            calls.append("/" + path)

    tab.on("request", seen)
    return calls


def logs_link_to_traces(tab: Page, gw: Gateway, traces: OtlpReceiver, shots: Path) -> None:
    """The request shows in the logs (one API call for the page), linked to the trace the
    gateway exported for it."""
    calls = api_calls(tab)
    tab.goto(gw.url + "/ui/#/logs")
    expect(tab.get_by_test_id("logs")).to_contain_text("carol")
    assert calls == ["/spend/logs"], calls
    link = tab.get_by_test_id("trace-link").first
    href = link.get_attribute("href") or ""
    prefix = f"http://127.0.0.1:{traces.port}/traces/"
    assert href.startswith(prefix), href
    trace_id = href[len(prefix) :]
    assert len(trace_id) == 32 and int(trace_id, 16)
    wait_until(lambda: any(s.trace_id == trace_id for s in traces.spans()), 30, "the trace")
    tab.screenshot(path=str(shots / "logs.png"), full_page=True)
    filters = tab.get_by_test_id("log-filters")
    filters.get_by_label("Status").select_option("error")
    filters.get_by_role("button", name="Filter").click()
    expect(tab.get_by_test_id("logs")).to_have_text("No requests match.")
    filters.get_by_label("Status").select_option("success")
    filters.get_by_label("User id").fill("carol")
    filters.get_by_role("button", name="Filter").click()
    expect(tab.get_by_test_id("logs")).to_contain_text("carol")


def test_console_end_to_end_in_the_browser(
    gateway: Gateway,
    chat_server: RunningServer,
    traces: OtlpReceiver,
    browser: Browser,
    page,
    shots,
) -> None:
    tab, dialogs = page
    tab.goto(gateway.url + "/ui/")
    expect(tab.get_by_role("heading", name="Sign in to inferstack")).to_be_visible()
    tab.screenshot(path=str(shots / "login.png"))
    sign_in(tab, gateway, gateway.master)

    create_team_and_user(tab, gateway, shots)
    secret = create_key(tab, gateway, shots)
    playground(tab, gateway, secret, shots)
    json_mode_and_tools(tab)

    usage_shows(tab, gateway, "team", TEAM)
    tab.screenshot(path=str(shots / "usage.png"), full_page=True)
    logs_link_to_traces(tab, gateway, traces, shots)
    add_model_and_use_it(tab, gateway, chat_server, shots)
    tab.goto(gateway.url + "/ui/#/audit")  # every admin action above, with who did it
    audit = tab.get_by_test_id("audit")
    for action in ("team", "user", "key", "model"):
        expect(audit).to_contain_text(action)
    expect(audit).to_contain_text("master")
    tab.screenshot(path=str(shots / "audit.png"), full_page=True)

    # carol signs in with her password in another browser: her own usage only, no admin pages
    other = browser.new_context(viewport={"width": 1400, "height": 900})
    carol = other.new_page()
    carol.set_default_timeout(TIMEOUT_MS)
    carol.goto(gateway.url + "/ui/")
    form = carol.get_by_test_id("login-password")
    form.get_by_label("Username or email").fill("carol@example.com")
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Sign in with password").click()
    expect(carol.get_by_test_id("who")).to_have_text("carol")
    expect(carol.get_by_role("link", name="Teams & users")).to_have_count(0)
    usage_shows(carol, gateway, "user", "carol")
    assert carol.get_by_test_id("top-group").all_inner_texts() == ["carol"]
    carol.goto(gateway.url + "/ui/#/keys")  # her own keys only: not the admin's
    expect(carol.get_by_test_id("key-alias").filter(has_text=XSS)).to_be_visible()
    expect(carol.get_by_text("console playground (master session)")).to_have_count(0)
    other.close()

    # revoke the key on the keys page; the playground then refuses it
    tab.goto(gateway.url + "/ui/#/keys")
    row = tab.get_by_role("row").filter(has_text=XSS)
    row.get_by_role("button", name="Revoke").click()
    row.get_by_role("button", name="Confirm revoke").click()
    expect(tab.get_by_role("row").filter(has_text=XSS).get_by_text("revoked")).to_be_visible()
    tab.goto(gateway.url + "/ui/#/playground")
    use_key(tab, secret)
    expect(tab.get_by_test_id("playground-error")).to_contain_text("401")
    chat(tab, "Hello?")
    expect(tab.get_by_test_id("playground-error")).to_contain_text("revoked")

    # signing out ends the session: the admin API no longer takes the cookie
    tab.get_by_role("button", name="Sign out").click()
    expect(tab.get_by_role("heading", name="Sign in to inferstack")).to_be_visible()
    assert tab.request.get(gateway.url + "/key/list").status == 401
    assert not dialogs, [d.message for d in dialogs]
