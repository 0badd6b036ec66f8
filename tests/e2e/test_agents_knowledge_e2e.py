"""The supervisor's knowledge route on the real stack: ``inferstack rag serve`` (real embedding
model, Milvus Lite) as the knowledge base of ``inferstack agents serve``, documents in through
POST /embed, a cited answer from the real chat model through the real gateway."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.gateway import Gateway, start_gateway, stop_gateway, virtual_key
from support.servers import RunningServer, free_port
from support.services import wait_until

pytestmark = pytest.mark.e2e

CLI = [sys.executable, "-m", "inferstack.cli.main"]
DOCS = [
    {
        "id": "refunds",
        "source": "handbook/refunds.md",
        "text": "Refund policy. Customers get their money back within 14 days of a return.",
    },
    {
        "id": "shipping",
        "source": "handbook/shipping.md",
        "text": "Shipping. Parcels to Norway take five working days by road.",
    },
]


def _serve(cmd: list[str], log: Path, url: str, path: str, env: dict | None = None):
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)

    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(log.read_text())
        try:
            return httpx.get(url + path, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(up, 180, " ".join(cmd[3:5]))
    return proc


@pytest.fixture(scope="module")
def stack(
    chat_server: RunningServer,
    embedding_server: RunningServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("kb")
    gw: Gateway = start_gateway(tmp, chat_server.url, chat_server.model, None, timeout_s=600)
    rag_port, agents_port = free_port(), free_port()
    rag_url, agents_url = f"http://127.0.0.1:{rag_port}", f"http://127.0.0.1:{agents_port}"
    rag_cmd = [
        *CLI,
        "rag",
        "serve",
        "--port",
        str(rag_port),
        "--kb-dir",
        str(tmp / "kb"),
        "--store",
        "milvus-lite",
        "--collection",
        "agents_e2e",
        "--embedding-url",
        embedding_server.base_url,
        "--chat-url",
        chat_server.base_url,
    ]
    rag = _serve(rag_cmd, tmp / "rag.log", rag_url, "/ready")
    env = {
        **os.environ,
        "INFERSTACK_AGENTS_API_KEY": virtual_key(gw),
        "INFERSTACK_AGENTS_RAG_URL": rag_url,
        "INFERSTACK_AGENTS_REQUEST_TIMEOUT": "600",
    }
    agents_cmd = [
        *CLI,
        "agents",
        "serve",
        "--port",
        str(agents_port),
        "--url",
        gw.url + "/v1",
        "--model",
        "chat",
        "--database",
        f"sqlite+aiosqlite:///{tmp / 'agents.db'}",
    ]
    agents = _serve(agents_cmd, tmp / "agents.log", agents_url, "/health", env)
    yield agents_url
    for proc in (agents, rag):
        proc.terminate()
        proc.wait(timeout=30)
    stop_gateway(gw)


def test_answer_from_the_knowledge_base_with_a_citation(stack: str) -> None:
    http = httpx.Client(base_url=stack, timeout=900)
    r = http.post("/embed", json={"documents": DOCS})
    assert r.status_code == 200, r.text
    assert http.get("/status").json()["knowledge_base"].startswith("http://127.0.0.1")

    question = "How many days do refunds take?"
    r = http.post("/query", json={"question": question, "mode": "knowledge"})
    assert r.status_code == 200, r.text
    reply = r.json()
    assert [s["step"] for s in reply["route"]] == [
        "knowledge_check",
        "retrieval",
        "relevance_check",
        "answer",
    ]
    # The passage that holds the answer is among the cited ones (which rank it gets is the
    # retriever's business, tested in tests/rag).
    top = next(c for c in reply["citations"] if c["source"] == "handbook/refunds.md")
    assert "14 days" in top["text"]
    assert top["location"].startswith("handbook/refunds.md#chunk=0")
    assert isinstance(reply["answer"], str)

    # The supervisor decides by itself: whichever way it goes, the route says so.
    r = http.post("/query", json={"question": "What is the refund policy?"})
    assert r.status_code == 200
    route = r.json()["route"]
    assert route[0]["step"] == "knowledge_check"
    assert route[0]["decision"] in ("knowledge", "tools")
    assert route[-1]["step"] in ("answer", "tool_agent")
