"""`inferstack up --observability --rag --agents --idp` for real: the default model behind the
gateway, the RAG, agent and IDP services, Phoenix receiving the traces, Prometheus scraping
every process; one trace per request from each service through the gateway to the model
server; Langfuse's OTLP path checked at a local receiver; a dead collector next to live
traffic."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from support.grafana import (
    APP_BOARDS,
    APP_RULES,
    PLATFORM_BOARDS,
    PLATFORM_RULES,
    alert_queries,
    dashboard_queries,
)
from support.idp_docs import INVOICE_LINES, write_text_pdf
from support.observed import (
    Stack,
    child,
    every_query_has_data,
    phoenix_spans,
    phoenix_trace,
    start_gateway,
    stop,
    through_the_gateway,
    wait_for,
)
from support.open_meteo import open_meteo_server
from support.otlp import OtlpReceiver
from support.servers import free_port

pytestmark = pytest.mark.e2e
TRACE = "5bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "10f067aa0ba902b7"
SCRAPED = ("chat", "embeddings", "gateway", "rag", "agents", "idp")
APPS_ENV = {  # bounded runs on a shared 2-core box
    "INFERSTACK_AGENTS_REQUEST_TIMEOUT": "300",
    "INFERSTACK_AGENTS_LIMITS__MAX_STEPS": "1",
    "INFERSTACK_AGENTS_LIMITS__STEP_MAX_TOKENS": "16",
    "INFERSTACK_IDP_APPROVE_THRESHOLD": "1.0",
    "INFERSTACK_IDP_MAX_TOKENS": "128",  # five short fields
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with open_meteo_server() as (meteo, _app):
        yield from _up(tmp_path_factory.mktemp("observed"), meteo)


def _up(root: Path, meteo: str) -> Iterator[Stack]:
    """The whole stack, observed, with the agents' weather on the Open-Meteo stand-in."""
    state = root / "state"
    names = ("chat", "emb", "gw", "phoenix", "prometheus", "rag", "mv", "agents", "idp")
    ports = {n: free_port() for n in names}
    log = root / "up.log"
    env = {
        **os.environ,
        **APPS_ENV,
        "INFERSTACK_AGENTS_WEATHER__GEOCODING_URL": f"{meteo}/search",
        "INFERSTACK_AGENTS_WEATHER__FORECAST_URL": f"{meteo}/forecast",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "inferstack.cli.main", "up", "--observability",
                "--state-dir", str(state),
                "--chat-port", str(ports["chat"]), "--embedding-port", str(ports["emb"]),
                "--gateway-port", str(ports["gw"]), "--phoenix-port", str(ports["phoenix"]),
                "--prometheus-port", str(ports["prometheus"]),
                "--rag", "--rag-port", str(ports["rag"]), "--milvus-port", str(ports["mv"]),
                "--agents", "--agents-port", str(ports["agents"]),
                "--idp", "--idp-port", str(ports["idp"]),
                "--parallel", "4", "--ctx-size", "1024",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
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


def test_up_prints_phoenix_and_prometheus_on_loopback(stack: Stack) -> None:
    printed = stack.log.read_text()
    for name in ("phoenix", "prometheus", "agents", "idp"):
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
        return jobs == dict.fromkeys(SCRAPED, "up")

    wait_for(targets_up, 60, "every process scraped")
    every_query_has_data(prom, dashboard_queries(PLATFORM_BOARDS) + alert_queries(PLATFORM_RULES))


RAG_DOCS = [
    {"id": "quarnia", "text": "Quarnia's capital Velmora is a city of bridges over the river."},
    {"id": "reactor", "text": "The Zorblax reactor burns frozen helium pellets."},
]


@pytest.mark.timeout(900)  # about ten model calls, on a shared 2-core box
def test_the_apps_are_scraped_and_every_apps_query_has_data(stack: Stack, tmp_path: Path) -> None:
    """Real requests through the RAG, agent and IDP services `up` started (the real model
    behind the gateway), then every query of the apps dashboard and alerts returns data from
    the stack's Prometheus scraping them."""
    rag = stack.record["rag"]["url"]
    r = httpx.post(f"{rag}/v1/rag/documents", json={"documents": RAG_DOCS}, timeout=300)
    assert r.status_code == 200, r.text
    for body in (
        {"query": "What is the capital of Quarnia?", "k": 2, "max_tokens": 8},
        {"query": "submarine sonar frequencies in the deep ocean"},
    ):
        r = httpx.post(f"{rag}/v1/rag/query", json=body, timeout=300)
        assert r.status_code == 200, r.text
    r = httpx.post(f"{rag}/v1/rag/retrieve", json={"query": "reactor", "mode": "bm25"}, timeout=60)
    assert r.status_code == 200 and r.json()["data"], r.text

    service = httpx.Client(base_url=stack.record["agents"]["url"], timeout=600)
    weather = {"message": "What is the weather in Paris?", "tool_choice": "required"}
    r = service.post("/chat", json=weather)
    assert r.status_code == 200 and r.json()["tool_calls"], r.text
    r = service.post("/query", json={"question": "Where is Velmora?", "mode": "tools"})
    assert r.status_code == 200, r.text
    pdf = tmp_path / "invoice.pdf"
    write_text_pdf(pdf, INVOICE_LINES)
    documents = httpx.Client(base_url=stack.record["idp"]["url"], timeout=600)
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
    prom = stack.record["prometheus"]["url"]
    assert {"agents", "idp", "rag"} <= set(stack.record["prometheus"]["targets"])
    every_query_has_data(prom, dashboard_queries(APP_BOARDS) + alert_queries(APP_RULES))


def test_a_rag_query_is_one_trace_from_the_rag_service_to_the_model_servers(stack: Stack) -> None:
    rag = stack.record["rag"]["url"]
    r = httpx.post(f"{rag}/v1/rag/documents", json={"documents": RAG_DOCS}, timeout=300)
    assert r.status_code == 200, r.text
    trace = "8a2f0e9d2c3b4a5968778695a4b3c2d1"
    r = httpx.post(
        f"{rag}/v1/rag/query",
        json={"query": "What is the capital of Quarnia?", "k": 2, "max_tokens": 8},
        headers={"traceparent": f"00-{trace}-{PARENT}-01"},
        timeout=300,
    )
    assert r.status_code == 200 and r.json()["route"] == "knowledge_base", r.text
    collection = "inferstack_rag"
    embedder = stack.record["embeddings"]["model"]
    spans = phoenix_trace(
        stack, trace, {"POST /v1/rag/query", f"retrieval {collection}", "decode"}, PARENT
    )
    [service] = [s for s in spans if s.get("parent_span_id") == PARENT]
    assert service["name"] == "POST /v1/rag/query"
    assert service["attrs"]["inferstack.rag.route"] == "knowledge_base"

    retrieval = child(spans, service, f"retrieval {collection}")
    a = retrieval["attrs"]
    assert (a["gen_ai.operation.name"], a["gen_ai.data_source.id"]) == ("retrieval", collection)
    assert (a["gen_ai.retrieval.top_k"], a["inferstack.retrieval.mode"]) == (2, "hybrid")
    assert a["inferstack.retrieval.hits"] == len(r.json()["citations"]) >= 1
    embeddings = child(spans, retrieval, f"embeddings {embedder}")
    e = embeddings["attrs"]
    assert (e["gen_ai.operation.name"], e["gen_ai.request.model"]) == ("embeddings", embedder)
    assert e["gen_ai.embeddings.dimension.count"] == 384
    assert e["gen_ai.usage.input_tokens"] > 0
    [emb_server] = through_the_gateway(spans, embeddings, "/v1/embeddings")[:1]
    assert emb_server["attrs"]["http.response.status_code"] == 200

    chat = child(spans, service, f"chat {stack.model}")
    c = chat["attrs"]
    assert (c["gen_ai.operation.name"], c["gen_ai.request.max_tokens"]) == ("chat", 8)
    assert c["gen_ai.usage.output_tokens"] >= 1
    assert int(chat["start_time_unix_nano"]) >= int(retrieval["end_time_unix_nano"])
    server = through_the_gateway(spans, chat, "/v1/chat/completions")
    assert {"queue", "prefill", "decode"} <= {s["name"] for s in server}


def test_ask_is_one_trace_under_the_traceparent_its_caller_hands_down(stack: Stack) -> None:
    """`inferstack ask` (retrieval in the command itself) with TRACEPARENT in its environment."""
    trace = "ba2f0e9d2c3b4a5968778695a4b3c2d1"
    env = {
        **os.environ,
        "TRACEPARENT": f"00-{trace}-{PARENT}-01",
        "INFERSTACK_TELEMETRY_EXPORTER": "phoenix",
        "INFERSTACK_TELEMETRY_PHOENIX_URL": stack.record["phoenix"]["url"],
    }
    question = ["ask", "What is the capital of Quarnia?", "--json", "-k", "2", "--max-tokens", "8"]
    done = subprocess.run(
        [sys.executable, "-m", "inferstack.cli.main", *question, "--state-dir", str(stack.state)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["route"] == "knowledge_base"
    spans = phoenix_trace(stack, trace, {"ask", "retrieval inferstack_rag", "decode"}, PARENT)
    [ask] = [s for s in spans if s.get("parent_span_id") == PARENT]
    assert ask["name"] == "ask" and ask["attrs"]["inferstack.rag.route"] == "knowledge_base"
    retrieval = child(spans, ask, "retrieval inferstack_rag")
    embeddings = child(spans, retrieval, f"embeddings {stack.record['embeddings']['model']}")
    through_the_gateway(spans, embeddings, "/v1/embeddings")
    chat = child(spans, ask, f"chat {stack.model}")
    assert "decode" in {s["name"] for s in through_the_gateway(spans, chat, "/v1/chat/completions")}


def test_an_agent_query_is_one_trace_to_the_model_server(stack: Stack) -> None:
    trace = "9a2f0e9d2c3b4a5968778695a4b3c2d1"
    r = httpx.post(
        f"{stack.record['agents']['url']}/query",
        json={"question": "What is 2 + 2?", "mode": "tools"},
        headers={"traceparent": f"00-{trace}-{PARENT}-01"},
        timeout=600,
    )
    assert r.status_code == 200, r.text
    spans = phoenix_trace(
        stack, trace, {"POST /query", "invoke_agent supervisor", "decode"}, PARENT
    )
    [service] = [s for s in spans if s.get("parent_span_id") == PARENT]
    assert service["name"] == "POST /query"
    supervisor = child(spans, service, "invoke_agent supervisor")
    [agent] = [s for s in spans if s.get("parent_span_id") == supervisor["span_id"]]
    assert agent["name"].startswith("invoke_agent ")
    agent_chat = child(spans, agent, f"chat {stack.model}")  # one step: one model call
    assert agent_chat["attrs"]["server.address"] == "127.0.0.1"  # the gateway
    assert agent_chat["attrs"]["gen_ai.request.max_tokens"] == 16
    server = through_the_gateway(spans, agent_chat, "/v1/chat/completions")
    assert "decode" in {s["name"] for s in server}


def test_an_idp_upload_is_one_trace_to_the_model_server(stack: Stack, tmp_path: Path) -> None:
    pdf = tmp_path / "other.pdf"  # not the apps test's invoice: this one is processed afresh
    write_text_pdf(pdf, [*INVOICE_LINES[:1], "Invoice number: INV-7310", *INVOICE_LINES[2:]])
    trace = "aa2f0e9d2c3b4a5968778695a4b3c2d1"
    r = httpx.post(
        f"{stack.record['idp']['url']}/v1/idp/documents",
        params={"filename": "other.pdf", "schema": "invoice"},
        content=pdf.read_bytes(),
        headers={"traceparent": f"00-{trace}-{PARENT}-01"},
        timeout=600,
    )
    assert r.status_code == 200 and r.json()["reused"] is False, r.text
    spans = phoenix_trace(stack, trace, {"POST /v1/idp/documents", "idp.extract", "decode"}, PARENT)
    [service] = [s for s in spans if s.get("parent_span_id") == PARENT]
    assert service["name"] == "POST /v1/idp/documents"
    process = child(spans, service, "idp.process")
    extract = child(spans, process, "idp.extract")
    server = through_the_gateway(spans, extract, "/v1/chat/completions")
    assert "decode" in {s["name"] for s in server}


def test_a_dead_collector_neither_slows_nor_fails_requests(stack: Stack, tmp_path: Path) -> None:

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
