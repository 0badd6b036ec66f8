"""The agent REST service: /query (plain and streamed), resume after approval, /health, /status."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from inferstack.agents.services.app import build_app
from inferstack.agents.settings import AgentSettings
from inferstack.agents.tools import Tool
from support.fake_chat import FakeModel, call, text


def app(tmp_path: Path, model: FakeModel, tools: list[Tool] | None = None) -> TestClient:
    s = AgentSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    return TestClient(build_app(s, client=model.client(), tools=tools))


def test_query_and_session(tmp_path: Path) -> None:
    model = FakeModel(text("Hi!"), text("Still here."))
    with app(tmp_path, model) as http:
        r = http.post("/query", json={"question": "hello", "session_id": "s1"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["answer"] == "Hi!" and body["session_id"] == "s1" and body["reason"] == "stop"
        assert [s["step"] for s in body["route"]] == ["knowledge_check", "tool_agent"]
        http.post("/query", json={"question": "again?", "session_id": "s1"})
        assert [m["role"] for m in model.requests[1]["messages"]] == [
            "system",
            "user",
            "assistant",
            "user",
        ]
        status = http.get("/status").json()
        assert status["sessions"] == 1 and status["knowledge_base"] is None
        assert status["database"]["reachable"] is True


def test_streamed_query(tmp_path: Path) -> None:
    def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    model = FakeModel(call("add", a=1, b=2), text("3"))
    with app(tmp_path, model, [Tool.from_function(add)]) as http:
        r = http.post("/query", json={"question": "1+2", "stream": True})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    data = [line[6:] for line in r.text.splitlines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    types = [json.loads(d)["type"] for d in data[:-1]]
    assert types == ["route", "route", "model_turn", "tool_result", "model_turn", "reply"]
    assert json.loads(data[-2])["answer"] == "3"


def test_approval_over_http(tmp_path: Path) -> None:
    ran: list[str] = []

    def remove(name: str) -> str:
        """Remove a thing."""
        ran.append(name)
        return f"removed {name}"

    tools = [Tool.from_function(remove, destructive=True)]
    model = FakeModel(call("remove", name="x"), text("Removed."))
    with app(tmp_path, model, tools) as http:
        paused = http.post("/query", json={"question": "remove x"}).json()
        assert paused["reason"] == "paused" and ran == []
        call_id = paused["pending"][0]["id"]
        r = http.post(f"/runs/{paused['run_id']}/resume", json={"approvals": {call_id: True}})
        assert r.status_code == 200 and r.json()["answer"] == "Removed." and ran == ["x"]
        again = http.post(f"/runs/{paused['run_id']}/resume", json={"approvals": {call_id: True}})
        assert again.status_code == 400 and again.json()["error"]["code"] == "not_paused"
        missing = http.post("/runs/run_nope/resume", json={"approvals": {}})
        assert missing.status_code == 404
        assert ran == ["x"]


def test_errors_have_real_status_codes(tmp_path: Path) -> None:
    with app(tmp_path, FakeModel()) as http:
        empty = http.post("/query", json={"question": ""})
        assert empty.status_code == 400 and empty.json()["error"]["param"] == "question"
        mode = http.post("/query", json={"question": "x", "mode": "magic"})
        assert mode.status_code == 400 and mode.json()["error"]["param"] == "mode"
        big = http.post("/query", content=b'{"question": "' + b"a" * (2 << 20) + b'"}')
        assert big.status_code == 413
        upstream = http.post("/query", json={"question": "hi"})  # the model answers 500
        assert upstream.status_code == 502
        assert http.get("/health").status_code == 200


def test_embed_exists_only_with_a_knowledge_base(tmp_path: Path) -> None:
    import httpx

    from inferstack.agents.knowledge import RagClient

    sent: list[dict] = []

    def rag(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json={"object": "rag.ingest", "added": 1})

    with app(tmp_path, FakeModel()) as http:
        assert http.post("/embed", json={"documents": []}).status_code == 404
    kb = RagClient("http://rag.test", http=httpx.AsyncClient(transport=httpx.MockTransport(rag)))
    s = AgentSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'b.db'}")
    with TestClient(build_app(s, client=FakeModel().client(), retriever=kb)) as http:
        r = http.post("/embed", json={"documents": [{"id": "a", "text": "hello"}]})
        assert r.status_code == 200 and r.json()["added"] == 1
        assert sent == [{"documents": [{"id": "a", "text": "hello", "metadata": {}}], "remove": []}]
        bad = http.post("/embed", json={"documents": [{"text": "no id"}]})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "documents.0.id"
        assert http.get("/status").json()["knowledge_base"] == "in process"
