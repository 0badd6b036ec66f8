"""RAG end to end on the real embedding model (and the real chat model for answers), with the
CLI run as a user runs it, on Milvus Lite, Milvus Lite's server mode and pgvector."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

from inferstack.rag.retrieve import KnowledgeBase, open_knowledge_base
from inferstack.rag.settings import RagSettings
from inferstack.websearch import API_KEY_ENV
from support.rag_backends import RUNNABLE_STORES, milvus_server, pgvector_server
from support.rag_corpus import FACTS, write_corpus
from support.servers import RunningServer, free_port
from support.services import wait_until
from support.tavily import PAGES, tavily_server

pytestmark = pytest.mark.e2e

CLI = [sys.executable, "-m", "inferstack.cli.main"]


@pytest.fixture(scope="module")
def backends() -> Iterator[dict[str, str]]:
    with milvus_server() as milvus, pgvector_server() as pg:
        yield {"milvus": milvus, "pgvector": pg}


def kb_args(kb_dir: Path, store: str, backends: dict[str, str]) -> list[str]:
    """CLI flags for a fresh knowledge base (a unique collection on the shared servers)."""
    args = [
        "--kb-dir",
        str(kb_dir),
        "--store",
        store,
        "--collection",
        f"e2e_{secrets.token_hex(6)}",
    ]
    if store != "milvus-lite":
        args += ["--store-uri", backends[store]]
    return args


def ingest(
    corpus: Path, kb: list[str], url: str, *extra: str, env: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    result = subprocess.run(
        [
            *CLI,
            "--log-level",
            "WARNING",
            "ingest",
            str(corpus),
            "--json",
            "--url",
            url,
            *kb,
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )
    assert result.stdout.strip(), result.stderr
    return result.returncode, json.loads(result.stdout.strip().splitlines()[-1])


def open_kb(kb: list[str], server: RunningServer) -> KnowledgeBase:
    opts = dict(zip(kb[::2], kb[1::2], strict=True))
    settings = RagSettings(
        state_dir=Path(opts["--kb-dir"]),
        store=opts["--store"],
        store_uri=opts.get("--store-uri"),
        collection=opts["--collection"],
        embedding_base_url=server.base_url,
        embedding_model=server.model,
    )
    return open_knowledge_base(settings)


async def assert_consistent(kb: KnowledgeBase) -> None:
    store = await kb.store()
    committed = kb.docstore.chunk_ids("committed")
    assert kb.docstore.counts()["pending"] == 0
    assert store.ids() == committed
    assert store.count() == len(committed)


@pytest.mark.parametrize("store", RUNNABLE_STORES)
def test_ingest_change_delete_and_find_planted_facts(
    tmp_path: Path, store: str, backends: dict[str, str], embedding_server: RunningServer
) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus)
    kb = kb_args(tmp_path / "kb", store, backends)
    url = embedding_server.base_url
    n = len(FACTS) + 4

    code, first = ingest(corpus, kb, url)
    assert code == 0 and first["failed"] == []
    assert first["added"] == n and first["chunks_embedded"] >= n

    code, again = ingest(corpus, kb, url)
    assert (again["unchanged"], again["added"], again["updated"], again["removed"]) == (n, 0, 0, 0)
    assert again["store_writes"] == 0 and again["docstore_writes"] == 0
    assert again["chunks_embedded"] == 0

    (corpus / "quarnia.txt").write_text(
        "The capital of Quarnia moved to Ostrel, a mountain town, in 2031.\n"
    )
    code, changed = ingest(corpus, kb, url)
    assert (changed["updated"], changed["unchanged"]) == (1, n - 1)
    assert changed["chunks_embedded"] == 1

    (corpus / "orchid.md").unlink()
    code, deleted = ingest(corpus, kb, url)
    assert (deleted["removed"], deleted["unchanged"]) == (1, n - 1)
    assert deleted["store_writes"] == deleted["chunks_deleted"] > 0

    async def check() -> None:
        base = open_kb(kb, embedding_server)
        try:
            await assert_consistent(base)
            for name, (fact, question) in FACTS.items():
                hits = await base.retrieve(question, k=3, mode="hybrid")
                if name == "orchid.md":
                    assert all("orchid" not in h.text for h in hits)
                    for mode in ("vector", "bm25"):
                        found = await base.retrieve("Dendrophylax tundrae", k=20, mode=mode)
                        assert all(not h.source.endswith("orchid.md") for h in found)
                elif name == "quarnia.txt":
                    assert "Ostrel" in hits[0].text
                else:
                    assert fact in hits[0].text, (question, [h.text[:80] for h in hits])
                    assert hits[0].source == str((corpus / name).resolve())
        finally:
            await base.aclose()

    asyncio.run(check())


@pytest.mark.parametrize("store", RUNNABLE_STORES)
def test_sigkill_midway_then_rerun_is_consistent(
    tmp_path: Path, store: str, backends: dict[str, str], embedding_server: RunningServer
) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus, filler_files=30)
    kb = kb_args(tmp_path / "kb", store, backends)
    docstore = tmp_path / "kb" / f"{kb[kb.index('--collection') + 1]}.docstore.sqlite"
    env = {"INFERSTACK_RAG_WRITE_GROUP_CHUNKS": "3", "INFERSTACK_RAG_EMBED_BATCH_SIZE": "1"}
    cmd = [
        *CLI,
        "--log-level",
        "WARNING",
        "ingest",
        str(corpus),
        "--json",
        "--quiet",
        "--url",
        embedding_server.base_url,
        *kb,
    ]
    proc = subprocess.Popen(
        cmd, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )

    def committed_groups() -> int:
        if not docstore.exists():
            return 0
        try:
            with closing(sqlite3.connect(f"file:{docstore}?mode=ro", uri=True, timeout=1)) as db:
                return int(
                    db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0]
                )
        except sqlite3.Error:
            return 0

    wait_until(lambda: committed_groups() >= 2 or proc.poll() is not None, 300, "two groups")
    assert proc.poll() is None, "ingest finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    total = len(FACTS) + 30

    code, rerun = ingest(corpus, kb, embedding_server.base_url)
    assert code == 0 and rerun["failed"] == []
    assert rerun["added"] + rerun["recovered"] + rerun["unchanged"] == total
    assert rerun["unchanged"] >= 1  # the groups committed before the kill are kept

    async def check() -> None:
        base = open_kb(kb, embedding_server)
        try:
            await assert_consistent(base)
            assert len(base.docstore.documents()) == total
            for _name, (fact, question) in FACTS.items():
                assert fact in (await base.retrieve(question, k=1))[0].text
        finally:
            await base.aclose()

    asyncio.run(check())
    code, final = ingest(corpus, kb, embedding_server.base_url)
    assert final["unchanged"] == total and final["store_writes"] == 0


class FailingProxy:
    """Forwards /v1/* to the real embedding server, but fails (500) on any input that holds
    ``POISON-PILL``: an embedding server that breaks on one document."""

    def __init__(self, upstream: str) -> None:
        import uvicorn
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse, Response
        from starlette.routing import Route

        async def forward(request: Request) -> Response:
            path = request.path_params["path"]
            body = await request.body()
            if path == "embeddings" and b"POISON-PILL" in body:
                error = {"message": "model crashed", "type": "server_error", "param": None}
                return JSONResponse({"error": error}, status_code=500)
            async with httpx.AsyncClient(timeout=120) as client:
                r = await client.request(
                    request.method,
                    f"{upstream}/{path}",
                    content=body,
                    headers={"content-type": "application/json"},
                )
            return Response(r.content, r.status_code, media_type=r.headers.get("content-type"))

        app = Starlette(routes=[Route("/v1/{path:path}", forward, methods=["GET", "POST"])])
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started, 30, "proxy")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def test_embedding_failure_on_one_document_is_reported_and_the_rest_land(
    tmp_path: Path, backends: dict[str, str], embedding_server: RunningServer
) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus)
    with (corpus / "filler-002.md").open("a") as f:
        f.write("\n\n## Broken\n\nThis paragraph carries a POISON-PILL for the embedder.\n")
    kb = kb_args(tmp_path / "kb", "milvus-lite", backends)
    proxy = FailingProxy(embedding_server.base_url)
    try:
        code, report = ingest(corpus, kb, proxy.url)
    finally:
        proxy.stop()
    assert code == 1
    (failure,) = report["failed"]
    assert failure["doc_id"] == str((corpus / "filler-002.md").resolve())
    assert failure["chunk"] >= 1 and "500" in failure["error"]
    assert report["added"] == len(FACTS) + 3

    async def check() -> None:
        base = open_kb(kb, embedding_server)
        try:
            await assert_consistent(base)
            assert failure["doc_id"] not in {d.doc_id for d in base.docstore.documents()}
            hits = await base.retrieve("POISON-PILL embedder", k=10, mode="bm25")
            assert all(h.doc_id != failure["doc_id"] for h in hits)
        finally:
            await base.aclose()

    asyncio.run(check())
    code, healed = ingest(corpus, kb, embedding_server.base_url)
    assert code == 0 and healed["added"] == 1 and healed["unchanged"] == len(FACTS) + 3


def test_ask_cites_the_chunk_with_the_fact_via_the_stack_record(
    tmp_path: Path,
    backends: dict[str, str],
    embedding_server: RunningServer,
    chat_server: RunningServer,
) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus)
    kb = kb_args(tmp_path / "kb", "milvus-lite", backends)
    state = tmp_path / "state"
    state.mkdir()
    (state / "stack.json").write_text(
        json.dumps(
            {
                "chat": {
                    "url": chat_server.url,
                    "base_url": chat_server.base_url,
                    "model": chat_server.model,
                },
                "embeddings": {
                    "url": embedding_server.url,
                    "base_url": embedding_server.base_url,
                    "model": embedding_server.model,
                },
            }
        )
    )
    code, _ = ingest(corpus, kb, embedding_server.base_url)
    assert code == 0
    fact, question = FACTS["zorblax.md"]
    ask = [
        *CLI,
        "--log-level",
        "WARNING",
        "ask",
        "--state-dir",
        str(state),
        *kb,
        "-k",
        "2",
        "--max-tokens",
        "24",
    ]
    result = subprocess.run([*ask, question, "--json"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["no_answer"] is False
    assert answer["model"] == chat_server.model
    assert answer["answer"].strip()
    top = answer["citations"][0]
    assert top["index"] == 1 and fact in top["text"]
    assert top["source"] == str((corpus / "zorblax.md").resolve())
    source_text = (corpus / "zorblax.md").read_text()
    assert source_text[top["start"] : top["end"]] == top["text"]
    assert all(1 <= n <= len(answer["citations"]) for n in answer["cited"])

    off = subprocess.run(
        [*ask, "How many moons does the planet Neptune have?", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert off.returncode == 0, off.stderr
    assert json.loads(off.stdout)["no_answer"] is True

    streamed = subprocess.run([*ask, question], capture_output=True, text=True, timeout=300)
    assert streamed.returncode == 0, streamed.stderr
    assert "Sources:" in streamed.stdout and "zorblax.md#chunk=" in streamed.stdout


def test_ask_hands_off_to_web_search_when_the_knowledge_base_has_no_answer(
    tmp_path: Path, embedding_server: RunningServer, chat_server: RunningServer
) -> None:
    """The real models, a local server that speaks Tavily's API, and ``inferstack ask`` run as a
    user runs it with the agents' web-search key in its environment."""
    corpus = tmp_path / "corpus"
    write_corpus(corpus)
    kb = kb_args(tmp_path / "kb", "milvus-lite", {})
    code, _ = ingest(corpus, kb, embedding_server.base_url)
    assert code == 0
    (tmp_path / "state").mkdir()  # no stack: the flags name the model servers
    ask = [
        *CLI,
        "--log-level",
        "WARNING",
        "ask",
        "--state-dir",
        str(tmp_path / "state"),
        "--embedding-url",
        embedding_server.base_url,
        "--chat-url",
        chat_server.base_url,
        *kb,
        "-k",
        "2",
        "--max-tokens",
        "24",
    ]
    off_topic = "How many moons does the planet Neptune have?"
    with tavily_server() as provider:
        env = {
            **os.environ,
            API_KEY_ENV: provider.key,
            "INFERSTACK_RAG_WEBSEARCH__URL": provider.url,
        }

        def run(*argv: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*ask, *argv], capture_output=True, text=True, timeout=300, env=env
            )

        web = run(off_topic, "--json")
        assert web.returncode == 0, web.stderr
        answer = json.loads(web.stdout)
        assert (answer["route"], answer["no_answer"]) == ("web_search", False)
        assert answer["model"] == chat_server.model and answer["answer"].strip()
        assert answer["best_score"] < RagSettings().min_relevance
        assert [c["source"] for c in answer["citations"]] == [PAGES[0].url, PAGES[1].url]
        assert {c["origin"] for c in answer["citations"]} == {"web"}
        assert answer["citations"][0]["text"] == PAGES[0].content
        assert all(1 <= n <= len(answer["citations"]) for n in answer["cited"])
        (request,) = provider.requests
        assert request["body"]["query"] == off_topic
        assert request["authorization"] == f"Bearer {provider.key}"

        streamed = run(off_topic)
        assert streamed.returncode == 0, streamed.stderr
        assert "Sources (web search):" in streamed.stdout and PAGES[0].url in streamed.stdout
        assert streamed.stdout.rstrip().endswith("route: web_search")

        fact, question = FACTS["zorblax.md"]
        searches = len(provider.requests)
        kb_answer = run(question, "--json")
        assert kb_answer.returncode == 0, kb_answer.stderr
        body = json.loads(kb_answer.stdout)
        assert (body["route"], body["no_answer"]) == ("knowledge_base", False)
        assert body["citations"][0]["origin"] == "knowledge_base"
        assert fact in body["citations"][0]["text"]
        assert len(provider.requests) == searches  # the knowledge base answered: no search

        provider.fail("status", 503)
        failed = run(off_topic, "--json")
        assert failed.returncode == 2 and failed.stdout == ""
        assert "web search" in failed.stderr and "503" in failed.stderr


def test_rag_service_streams_a_cited_answer(
    tmp_path: Path,
    backends: dict[str, str],
    embedding_server: RunningServer,
    chat_server: RunningServer,
) -> None:
    """`rag serve` on Milvus Lite's server with web search configured (a local server that
    speaks Tavily's API): a knowledge-base question streams its chunks, an off-topic one is
    answered from the web, and a failing provider is a 502 error body."""
    corpus = tmp_path / "corpus"
    write_corpus(corpus)
    kb = kb_args(tmp_path / "kb", "milvus", backends)
    code, _ = ingest(corpus, kb, embedding_server.base_url)
    assert code == 0
    port = free_port()
    log = (tmp_path / "rag.log").open("wb")
    with tavily_server() as provider:
        proc = subprocess.Popen(
            [
                *CLI,
                "rag",
                "serve",
                "--port",
                str(port),
                *kb,
                "--embedding-url",
                embedding_server.base_url,
                "--chat-url",
                chat_server.base_url,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={
                **os.environ,
                API_KEY_ENV: provider.key,
                "INFERSTACK_RAG_WEBSEARCH__URL": provider.url,
            },
        )
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            try:
                return httpx.get(f"{url}/ready", timeout=2).status_code == 200
            except httpx.HTTPError:
                return proc.poll() is not None

        try:
            wait_until(ready, 120, "rag serve")
            assert proc.poll() is None, (tmp_path / "rag.log").read_text()
            fact, question = FACTS["ledger.html"]
            body = {"query": question, "k": 2, "max_tokens": 16, "stream": True}
            with httpx.stream("POST", f"{url}/v1/rag/query", json=body, timeout=300) as r:
                assert r.status_code == 200
                lines = [x for x in r.iter_lines() if x.startswith("data: ")]
            assert lines[-1] == "data: [DONE]"
            events = [json.loads(x[6:]) for x in lines[:-1]]
            assert events[0]["object"] == "rag.citations"
            assert events[0]["route"] == "knowledge_base"
            assert fact in events[0]["citations"][0]["text"]
            assert any(e["object"] == "rag.delta" and e["delta"] for e in events)
            assert events[-1]["object"] == "rag.done"
            assert provider.requests == []
            bad = httpx.post(f"{url}/v1/rag/query", json={"query": "x", "k": 99}, timeout=30)
            assert bad.status_code == 400 and bad.json()["error"]["param"] == "k"

            off_topic = {"query": "How many moons does the planet Neptune have?", "max_tokens": 16}
            web = httpx.post(f"{url}/v1/rag/query", json=off_topic, timeout=300)
            assert web.status_code == 200, web.text
            answer = web.json()
            assert (answer["route"], answer["no_answer"]) == ("web_search", False)
            assert answer["citations"][0]["source"] == PAGES[0].url
            assert {c["origin"] for c in answer["citations"]} == {"web"}
            assert {c["source"] for c in answer["citations"]} <= {p.url for p in PAGES}
            provider.fail("malformed")
            failed = httpx.post(f"{url}/v1/rag/query", json=off_topic, timeout=300)
            assert failed.status_code == 502
            error = failed.json()["error"]
            assert (error["type"], error["code"]) == ("upstream_error", "web_search_malformed")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()


def test_up_with_rag_serves_what_ingest_adds(tmp_path: Path) -> None:
    state = tmp_path / "state"
    names = ("chat", "embedding", "gateway", "rag", "milvus")
    ports = {name: free_port() for name in names}
    log = (tmp_path / "up.log").open("wb")
    argv = [*CLI, "up", "--state-dir", str(state), "--rag", "--parallel", "2", "--ctx-size", "2048"]
    for name in names:
        argv += [f"--{name}-port", str(ports[name])]
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    stack_file = state / "stack.json"

    def has_rag() -> bool:
        assert proc.poll() is None, (tmp_path / "up.log").read_text()
        return stack_file.exists() and "rag" in json.loads(stack_file.read_text())

    try:
        wait_until(has_rag, 600, "inferstack up --rag")
        stack = json.loads(stack_file.read_text())
        assert stack["rag"]["store_uri"] == f"http://127.0.0.1:{ports['milvus']}"
        corpus = tmp_path / "corpus"
        write_corpus(corpus)
        result = subprocess.run(
            [
                *CLI,
                "--log-level",
                "WARNING",
                "ingest",
                str(corpus),
                "--json",
                "--state-dir",
                str(state),
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["added"] == len(FACTS) + 4
        fact, question = FACTS["quarnia.txt"]
        rag = stack["rag"]["base_url"]
        hits = httpx.post(f"{rag}/retrieve", json={"query": question, "k": 3}, timeout=120)
        assert hits.status_code == 200, hits.text
        assert fact in hits.json()["data"][0]["text"]
        answer = httpx.post(
            f"{rag}/query", json={"query": question, "k": 2, "max_tokens": 12}, timeout=300
        ).json()
        assert answer["no_answer"] is False and answer["answer"].strip()
        assert fact in answer["citations"][0]["text"]
        stats = httpx.get(f"{rag}/stats", timeout=30).json()
        assert stats["store"] == "milvus" and stats["vectors"] == stats["chunks"] > 0
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
