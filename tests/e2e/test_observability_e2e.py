"""`inferstack up --observability --rag` for real: the default model behind the gateway, the RAG
service, Phoenix receiving the traces, Prometheus scraping every process; the agent and IDP
services beside it, scraped with the RAG service by a second real Prometheus; Langfuse's OTLP
path checked at a local receiver; a dead collector next to live traffic."""

from __future__ import annotations

import contextlib
import json
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil
import pytest
import yaml

from support.grafana import (
    APP_BOARDS,
    APP_RULES,
    PLATFORM_BOARDS,
    PLATFORM_RULES,
    alert_queries,
    dashboard_queries,
)
from support.idp_docs import INVOICE_LINES, write_text_pdf
from support.open_meteo import open_meteo_server
from support.otlp import OtlpReceiver
from support.servers import free_port

pytestmark = pytest.mark.e2e
T = TypeVar("T")
TRACE = "5bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "10f067aa0ba902b7"


def wait_for(check: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Stack:
    record: dict[str, Any]
    log: Path
    key: str
    state: Path

    @property
    def model(self) -> str:
        return str(self.record["chat"]["model"])

    def chat(self, base_url: str, key: str, traceparent: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"}
        if traceparent:
            headers["traceparent"] = traceparent
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": "What is the capital of France?"}],
            "max_tokens": 4,
            "temperature": 0,
        }
        return httpx.post(f"{base_url}/chat/completions", json=body, headers=headers, timeout=120)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("observed")
    state = root / "state"
    ports = {n: free_port() for n in ("chat", "emb", "gw", "phoenix", "prometheus", "rag", "mv")}
    log = root / "up.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "inferstack.cli.main", "up", "--observability",
                "--state-dir", str(state),
                "--chat-port", str(ports["chat"]), "--embedding-port", str(ports["emb"]),
                "--gateway-port", str(ports["gw"]), "--phoenix-port", str(ports["phoenix"]),
                "--prometheus-port", str(ports["prometheus"]),
                "--rag", "--rag-port", str(ports["rag"]), "--milvus-port", str(ports["mv"]),
                "--parallel", "4", "--ctx-size", "1024",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        stack_file = state / "stack.json"

        def ready() -> bool:
            assert proc.poll() is None, log.read_text()
            # Prometheus starts last, when every other process is up
            return stack_file.exists() and "prometheus" in json.loads(stack_file.read_text())

        wait_for(ready, 600, "the stack")
        record = json.loads(stack_file.read_text())
        key = Path(record["gateway"]["api_key_file"]).read_text().strip()
        yield Stack(record, log, key, state)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


@dataclass
class ExtraGateway:
    base_url: str
    url: str
    master: str
    process: subprocess.Popen[bytes]


def start_gateway(stack: Stack, root: Path, env: dict[str, str]) -> ExtraGateway:
    """Another `inferstack gateway` process in front of the stack's chat server."""
    root.mkdir(parents=True, exist_ok=True)
    chat = stack.record["chat"]
    config = root / "gateway.yaml"
    groups = {chat["model"]: {"deployments": [{"api_base": chat["base_url"]}]}}
    config.write_text(yaml.safe_dump({"model_groups": groups}))
    port = free_port()
    argv = [sys.executable, "-m", "inferstack.cli.main", "gateway", "--config", str(config)]
    argv += ["--port", str(port), "--state-dir", str(root)]
    log = (root / "gateway.log").open("wb")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert proc.poll() is None, (root / "gateway.log").read_text()
        try:
            return httpx.get(f"{url}/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(ready, 120, "the extra gateway")
    master = (root / "master_key").read_text().strip()
    return ExtraGateway(f"{url}/v1", url, master, proc)


def stop(gateway: ExtraGateway) -> None:
    gateway.process.terminate()
    try:
        gateway.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        gateway.process.kill()


def _value(v: dict[str, Any]) -> Any:
    for field in ("string_value", "int_value", "double_value", "bool_value"):
        if v.get(field) is not None:
            return v[field]
    array = v.get("array_value")
    return [_value(x) for x in array["values"]] if array else None


def phoenix_spans(stack: Stack, trace_id: str) -> list[dict[str, Any]]:
    url = stack.record["phoenix"]["url"]
    r = httpx.get(
        f"{url}/v1/projects/inferstack/spans/otlpv1",
        params={"trace_id": trace_id, "limit": 100},
        timeout=10,
    )
    if r.status_code != 200:
        return []
    spans = r.json()["data"]
    for s in spans:
        s["attrs"] = {a["key"]: _value(a["value"]) for a in s.get("attributes") or []}
    return spans


def test_up_prints_phoenix_and_prometheus_on_loopback(stack: Stack) -> None:
    printed = stack.log.read_text()
    for name in ("phoenix", "prometheus"):
        assert stack.record[name]["url"].startswith("http://127.0.0.1:")
        assert stack.record[name]["url"] in printed
    listening = [
        c.laddr
        for c in psutil.Process(stack.record["phoenix"]["pid"]).net_connections("inet")
        if c.status == psutil.CONN_LISTEN
    ]
    # one port, the UI/OTLP-HTTP one, on loopback: the gRPC receiver is closed
    assert [(a.ip, a.port) for a in listening] == [
        ("127.0.0.1", int(stack.record["phoenix"]["url"].rsplit(":", 1)[1]))
    ]


def test_a_request_is_one_trace_in_phoenix(stack: Stack) -> None:
    gateway = stack.record["gateway"]["base_url"]
    r = stack.chat(gateway, stack.key, traceparent=f"00-{TRACE}-{PARENT}-01")
    assert r.status_code == 200, r.text

    def complete() -> list[dict[str, Any]] | None:
        spans = phoenix_spans(stack, TRACE)
        names = [s["name"] for s in spans]
        return (
            spans
            if {"decode", "upstream " + _dep(stack)} <= set(names)
            and len([n for n in names if n == f"chat {stack.model}"]) == 2
            else None
        )

    spans = wait_for(complete, 60, "the trace in Phoenix")
    by_id = {s["span_id"]: s for s in spans}
    assert {s["trace_id"] for s in spans} == {TRACE}
    gw_server = next(s for s in spans if s.get("parent_span_id") == PARENT)
    assert gw_server["name"] == "POST /v1/chat/completions"
    attempt = next(s for s in spans if s["name"].startswith("upstream "))
    server = next(s for s in spans if s.get("parent_span_id") == attempt["span_id"])
    assert server["name"] == "POST /v1/chat/completions"
    server_chat = next(
        s for s in spans if s["name"] == f"chat {stack.model}"
        and s.get("parent_span_id") == server["span_id"]
    )  # fmt: skip
    for phase in ("queue", "prefill", "decode"):
        [span] = [s for s in spans if s["name"] == phase]
        assert span["parent_span_id"] == server_chat["span_id"]
    gw_chat = by_id[attempt["parent_span_id"]]
    assert gw_chat["name"] == f"chat {stack.model}"
    a = gw_chat["attrs"]
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.request.model"] == stack.model
    assert a["gen_ai.request.max_tokens"] == 4
    assert a["gen_ai.usage.output_tokens"] >= 1
    assert "gen_ai.input.messages" not in a
    s = server_chat["attrs"]
    assert s["gen_ai.response.finish_reasons"] in (["length"], ["stop"])
    assert s["gen_ai.usage.input_tokens"] > 0


def test_the_console_links_a_request_to_its_trace_in_phoenix(stack: Stack) -> None:
    """The console's request log links to the request's trace, which Phoenix opens."""
    from playwright.sync_api import expect, sync_playwright

    gateway = stack.record["gateway"]
    phoenix = stack.record["phoenix"]["url"]
    trace = "7a1f0e9d2c3b4a5968778695a4b3c2d1"
    r = stack.chat(gateway["base_url"], stack.key, traceparent=f"00-{trace}-{PARENT}-01")
    assert r.status_code == 200, r.text
    wait_for(lambda: phoenix_spans(stack, trace), 60, "the trace in Phoenix")
    master = Path(gateway["master_key_file"]).read_text().strip()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless"])
        try:
            page = browser.new_page()
            page.set_default_timeout(120_000)
            page.goto(gateway["url"] + "/ui/")
            page.get_by_label("API key (master or virtual)").fill(master)
            page.get_by_role("button", name="Sign in", exact=True).click()
            page.get_by_test_id("who").wait_for()
            page.goto(gateway["url"] + "/ui/#/logs")
            link = page.get_by_test_id("trace-link").first
            assert link.get_attribute("href") == f"{phoenix}/redirects/traces/{trace}"
            page.goto(f"{phoenix}/redirects/traces/{trace}")
            # Phoenix finds the trace's project and opens the trace there
            page.wait_for_url(lambda url: "/projects/" in url and url.endswith(f"/traces/{trace}"))
            expect(page.get_by_text(f"chat {stack.model}").first).to_be_visible(timeout=120_000)
        finally:
            browser.close()


def _dep(stack: Stack) -> str:
    return f"{stack.model}/0"


def test_langfuse_preset_posts_the_gateways_spans_with_auth_and_headers(
    stack: Stack, tmp_path: Path
) -> None:
    import base64
    import os

    trace = "6cf92f3577b34da6a3ce929d0e0e4736"
    with OtlpReceiver() as receiver:
        env = {
            **os.environ,
            "INFERSTACK_TELEMETRY_EXPORTER": "langfuse",
            "INFERSTACK_TELEMETRY_LANGFUSE_HOST": f"http://127.0.0.1:{receiver.port}",
            "INFERSTACK_TELEMETRY_LANGFUSE_PUBLIC_KEY": "pk-lf-e2e",
            "INFERSTACK_TELEMETRY_LANGFUSE_SECRET_KEY": "sk-lf-e2e",
        }
        gw = start_gateway(stack, tmp_path / "langfuse-gw", env)
        try:
            r = stack.chat(gw.base_url, gw.master, traceparent=f"00-{trace}-{PARENT}-01")
            assert r.status_code == 200, r.text

            def exported() -> bool:
                names = {s.name for s in receiver.spans()}
                return f"chat {stack.model}" in names and "POST /v1/chat/completions" in names

            wait_for(exported, 30, "spans at the Langfuse receiver")
        finally:
            stop(gw)
    expected = "Basic " + base64.b64encode(b"pk-lf-e2e:sk-lf-e2e").decode()
    for req in receiver.requests:
        assert req.path == "/api/public/otel/v1/traces"
        assert req.headers["authorization"] == expected
        assert req.headers["x-langfuse-ingestion-version"] == "4"
        assert req.headers["content-type"] == "application/x-protobuf"
    spans = receiver.spans()
    assert {s.trace_id for s in spans} == {trace}
    assert {s.service for s in spans} == {"inferstack-gateway"}
    chat = next(s for s in spans if s.name == f"chat {stack.model}")
    assert chat.attributes["gen_ai.provider.name"] == "inferstack"
    assert chat.attributes["gen_ai.usage.input_tokens"] > 0
    # the model server (tracing to Phoenix) continued the same trace
    wait_for(lambda: [s for s in phoenix_spans(stack, trace) if s["name"] == "decode"], 60,
             "the server's half of the trace in Phoenix")  # fmt: skip


def test_prometheus_scrapes_every_process_and_every_query_has_data(stack: Stack) -> None:
    prom = stack.record["prometheus"]["url"]
    gateway = stack.record["gateway"]["base_url"]
    master = Path(stack.record["gateway"]["master_key_file"]).read_text().strip()
    budgeted = httpx.post(
        f"{stack.record['gateway']['url']}/key/generate",
        json={"alias": "e2e-budget", "max_budget": 10},
        headers={"Authorization": f"Bearer {master}"},
        timeout=30,
    ).json()["key"]
    for key in (stack.key, budgeted, stack.key):
        assert stack.chat(gateway, key).status_code == 200
    httpx.post(
        f"{stack.record['chat']['base_url']}/completions",
        json={"model": stack.model, "prompt": "Q: 1+1?\nA:", "max_tokens": 4},
        timeout=60,
    ).raise_for_status()

    def targets_up() -> bool:
        active = httpx.get(f"{prom}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        jobs = {t["labels"]["job"]: t["health"] for t in active}
        return jobs == dict.fromkeys(("chat", "embeddings", "gateway", "rag"), "up")

    wait_for(targets_up, 60, "every process scraped")
    every_query_has_data(prom, dashboard_queries(PLATFORM_BOARDS) + alert_queries(PLATFORM_RULES))


def every_query_has_data(prom: str, queries: list[str]) -> None:
    assert queries
    for query in queries:

        def has_data(q: str = query) -> bool:
            r = httpx.get(f"{prom}/api/v1/query", params={"query": q}, timeout=10)
            assert r.status_code == 200, (q, r.text)
            return bool(r.json()["data"]["result"])

        wait_for(has_data, 90, f"data for {query}")


@dataclass
class App:
    process: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def start_app(root: Path, name: str, argv: list[str], env: dict[str, str]) -> App:
    """``inferstack <argv>`` (an app service) with ``env``, once its /health answers."""
    import os

    port = free_port()
    log = root / f"{name}.log"
    cmd = [sys.executable, "-m", "inferstack.cli.main", *argv, "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **env}
        )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert proc.poll() is None, log.read_text()
        try:
            return httpx.get(f"{url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(healthy, 120, name)
    return App(proc, url)


@pytest.mark.timeout(900)  # about ten model calls, on a shared 2-core box
def test_the_apps_are_scraped_and_every_apps_query_has_data(stack: Stack, tmp_path: Path) -> None:
    """Real requests through the RAG, agent and IDP services (the real model behind the
    gateway), then every query of the apps dashboard and alerts returns data from a real
    Prometheus scraping them; the RAG ones also from the stack's own Prometheus."""
    from inferstack.cli import observability as obs

    rag = stack.record["rag"]["url"]
    gateway = stack.record["gateway"]["base_url"]
    docs = [
        {"id": "quarnia", "text": "Quarnia's capital Velmora is a city of bridges over the river."},
        {"id": "reactor", "text": "The Zorblax reactor burns frozen helium pellets."},
    ]
    r = httpx.post(f"{rag}/v1/rag/documents", json={"documents": docs}, timeout=300)
    assert r.status_code == 200, r.text
    for body in (
        {"query": "What is the capital of Quarnia?", "k": 2, "max_tokens": 8},
        {"query": "submarine sonar frequencies in the deep ocean"},
    ):
        r = httpx.post(f"{rag}/v1/rag/query", json=body, timeout=300)
        assert r.status_code == 200, r.text
    r = httpx.post(f"{rag}/v1/rag/retrieve", json={"query": "reactor", "mode": "bm25"}, timeout=60)
    assert r.status_code == 200 and r.json()["data"], r.text

    pdf = tmp_path / "invoice.pdf"
    write_text_pdf(pdf, INVOICE_LINES)
    with contextlib.ExitStack() as running:
        meteo, _app = running.enter_context(open_meteo_server())
        agents = start_app(
            tmp_path,
            "agents",
            ["agents", "serve", "--url", gateway, "--model", stack.model],
            {
                "INFERSTACK_AGENTS_API_KEY": stack.key,
                "INFERSTACK_AGENTS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'agents.db'}",
                "INFERSTACK_AGENTS_RAG_URL": rag,
                "INFERSTACK_AGENTS_WEATHER__GEOCODING_URL": f"{meteo}/search",
                "INFERSTACK_AGENTS_WEATHER__FORECAST_URL": f"{meteo}/forecast",
                "INFERSTACK_AGENTS_REQUEST_TIMEOUT": "300",
                "INFERSTACK_AGENTS_LIMITS__MAX_STEPS": "1",
                "INFERSTACK_AGENTS_LIMITS__STEP_MAX_TOKENS": "16",
            },
        )
        running.callback(agents.stop)
        idp = start_app(
            tmp_path,
            "idp",
            ["idp", "serve", "--state-dir", str(tmp_path / "idp")],
            {
                "INFERSTACK_IDP_CHAT_BASE_URL": gateway,
                "INFERSTACK_IDP_CHAT_MODEL": stack.model,
                "INFERSTACK_IDP_API_KEY": stack.key,
                "INFERSTACK_IDP_APPROVE_THRESHOLD": "1.0",
                "INFERSTACK_IDP_MAX_TOKENS": "128",  # five short fields; bounded on a busy box
            },
        )
        running.callback(idp.stop)

        service = httpx.Client(base_url=agents.url, timeout=600)
        weather = {"message": "What is the weather in Paris?", "tool_choice": "required"}
        r = service.post("/chat", json=weather)
        assert r.status_code == 200 and r.json()["tool_calls"], r.text
        r = service.post("/query", json={"question": "Where is Velmora?", "mode": "tools"})
        assert r.status_code == 200, r.text
        documents = httpx.Client(base_url=idp.url, timeout=600)
        r = documents.post(
            "/v1/idp/documents",
            params={"filename": "invoice.pdf", "schema": "invoice"},
            content=pdf.read_bytes(),
        )
        assert r.status_code == 200, r.text
        if r.json()["status"] == "pending":
            approved = documents.post(
                f"/v1/idp/documents/{r.json()['id']}/approve", json={"reviewer": "e2e"}
            )
            assert approved.status_code == 200, approved.text

        targets = {"agents": f"{agents.url}/metrics", "idp": f"{idp.url}/metrics"}
        targets["rag"] = f"{rag}/metrics"
        port = free_port()
        log = tmp_path / "prometheus.log"
        prometheus = obs.start_prometheus(tmp_path, "127.0.0.1", port, targets, log)
        running.callback(lambda: (prometheus.terminate(), prometheus.wait(timeout=30)))
        prom = f"http://127.0.0.1:{port}"

        def targets_up() -> bool:
            assert prometheus.poll() is None, log.read_text()
            try:
                r = httpx.get(f"{prom}/api/v1/targets", timeout=10)
            except httpx.HTTPError:
                return False
            if r.status_code != 200:  # 503 while it starts
                return False
            jobs = {t["labels"]["job"]: t["health"] for t in r.json()["data"]["activeTargets"]}
            return jobs == dict.fromkeys(targets, "up")

        wait_for(targets_up, 90, "the apps scraped")
        queries = dashboard_queries(APP_BOARDS) + alert_queries(APP_RULES)
        every_query_has_data(prom, queries)
        # the stack's own Prometheus scrapes the RAG service `up --rag` started
        own = [q for q in queries if "inferstack_rag_" in q]
        assert own
        every_query_has_data(stack.record["prometheus"]["url"], own)


def test_a_dead_collector_neither_slows_nor_fails_requests(stack: Stack, tmp_path: Path) -> None:
    import os

    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "INFERSTACK_TEL"))}
    dead = start_gateway(
        stack,
        tmp_path / "dead",
        {
            **base,
            "INFERSTACK_TELEMETRY_EXPORTER": "otlp",
            "INFERSTACK_TELEMETRY_ENDPOINT": f"http://127.0.0.1:{free_port()}/v1/traces",
            "INFERSTACK_TELEMETRY_MAX_QUEUE_SIZE": "16",
            "INFERSTACK_TELEMETRY_SCHEDULE_DELAY_S": "0.2",
        },
    )
    off = start_gateway(stack, tmp_path / "off", base)
    try:
        times: dict[str, list[float]] = {"dead": [], "off": []}
        for _ in range(12):  # interleaved, so both see the same load on the shared CPUs
            for name, gw in (("off", off), ("dead", dead)):
                started = time.perf_counter()
                r = stack.chat(gw.base_url, gw.master)
                times[name].append(time.perf_counter() - started)
                assert r.status_code == 200, r.text
        ratio = statistics.median(times["dead"]) / statistics.median(times["off"])
        assert ratio < 1.5, (ratio, times)

        counters = ("inferstack_telemetry_spans_failed_total", "inferstack_telemetry_spans_dropped")

        def lost() -> bool:
            text = httpx.get(f"{dead.url}/metrics", timeout=10).text
            return any(
                line.startswith(counters) and float(line.rsplit(" ", 1)[1]) > 0
                for line in text.splitlines()
            )

        wait_for(lost, 60, "the dead collector's failures counted")
    finally:
        stop(dead)
        stop(off)


def test_the_trace_shows_in_phoenixs_ui(stack: Stack, tmp_path: Path) -> None:
    """The docs' screenshot command, run for real with headless Chromium."""
    out = tmp_path / "trace.png"
    script = Path(__file__).resolve().parents[2] / "docs" / "tools" / "phoenix_screenshot.py"
    result = subprocess.run(
        [sys.executable, str(script), "--state-dir", str(stack.state), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 20_000
