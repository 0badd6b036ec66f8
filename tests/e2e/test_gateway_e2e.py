"""The gateway in front of the real model server, driven by the ``openai`` SDK, on SQLite and on
a real PostgreSQL that this module starts itself."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import openai
import pytest

from support.gateway import Gateway, start_gateway
from support.services import postgres_cluster, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_cluster() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def gateway(request, chat_server, tmp_path) -> Iterator[Gateway]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    gw = start_gateway(tmp_path, chat_server.url, chat_server.model, url)
    yield gw
    gw.process.terminate()
    gw.process.wait(timeout=30)


def test_openai_sdk_through_the_gateway(gateway: Gateway) -> None:
    admin = httpx.Client(
        base_url=gateway.url, headers={"Authorization": f"Bearer {gateway.master}"}
    )
    key = admin.post("/key/generate", json={"models": ["chat"], "max_budget": 10}).json()["key"]
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0)

    assert [m.id for m in client.models.list().data] == ["chat"]
    prompt = [{"role": "user", "content": "Q: What is the capital of France?\nA:"}]
    reply = client.chat.completions.create(
        model="chat", messages=prompt, max_tokens=8, temperature=0, seed=1
    )
    assert reply.choices[0].message.content
    assert reply.usage is not None and reply.usage.completion_tokens > 0

    stream = client.chat.completions.create(
        model="chat", messages=prompt, max_tokens=8, temperature=0, seed=1, stream=True
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert all(c.usage is None for c in chunks)  # the client did not ask for usage

    stream = client.completions.create(
        model="chat",
        prompt="Q: 2+2?\nA:",
        max_tokens=4,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0

    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="nope", messages=prompt, max_tokens=2)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=gateway.url + "/v1", api_key="sk-wrong", max_retries=0).models.list()

    logs = admin.get("/spend/logs").json()  # refused requests never reach the spend log
    ok = [log for log in logs if log["status_code"] == 200]
    assert len(ok) == len(logs) == 3
    assert all(log["completion_tokens"] > 0 and log["cost"] > 0 for log in ok)
    assert any(log["stream"] and log["ttft_ms"] is not None for log in ok)
    spent = admin.get("/spend/keys").json()[0]["spend"]
    assert spent == pytest.approx(sum(log["cost"] for log in ok))


@pytest.fixture
def sqlite_gateway(chat_server, tmp_path) -> Iterator[Gateway]:
    gw = start_gateway(tmp_path, chat_server.url, chat_server.model, None)
    yield gw
    gw.process.terminate()
    gw.process.wait(timeout=30)


def test_an_abandoned_stream_is_charged(sqlite_gateway: Gateway) -> None:
    """Read a few tokens of a real stream and hang up mid-generation, long before the usage
    chunk: the request is still charged for its tokens and its time (it was $0 and 0 tokens)."""
    gw = sqlite_gateway
    admin = httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {gw.master}"})
    key = admin.post("/key/generate", json={"max_budget": 10}).json()["key"]
    body = {
        "model": "chat",
        "messages": [{"role": "user", "content": "Count from one to one hundred."}],
        "max_tokens": 200,
        "stream": True,
    }
    headers = {"Authorization": f"Bearer {key}"}
    with (
        httpx.Client(base_url=gw.url, timeout=120) as client,
        client.stream("POST", "/v1/chat/completions", json=body, headers=headers) as response,
    ):
        assert response.status_code == 200
        contents = 0
        for line in response.iter_lines():
            if '"content":"' in line.replace(" ", ""):
                contents += 1
            if contents >= 3:
                break  # hang up mid-generation: no finish_reason, no usage chunk yet
    wait_until(lambda: admin.get("/spend/logs").json() != [], 60, "the request's usage row")
    (log,) = admin.get("/spend/logs").json()
    print(
        f"abandoned stream: status {log['status_code']}, {log['prompt_tokens']} prompt + "
        f"{log['completion_tokens']} completion tokens, ${log['cost']:.6f}"
    )
    assert log["status_code"] == 499
    assert int(log["completion_tokens"]) >= 3 and int(log["prompt_tokens"]) > 0
    assert float(log["cost"]) > 0
    spent = admin.get("/spend/keys").json()[0]["spend"]
    assert spent == pytest.approx(log["cost"])


PROMPT = "Contact: jane.doe@example.com\nContact: jane.doe@example.com\nContact:"


def _stream_texts(url: str, headers: dict[str, str], model: str) -> list[str]:
    body = {"model": model, "prompt": PROMPT, "max_tokens": 12, "temperature": 0, "stream": True}
    texts = []
    with httpx.stream("POST", url, json=body, headers=headers, timeout=120) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                data = json.loads(line[6:])
                texts += [c.get("text") or "" for c in data.get("choices") or []]
                if "error" in data:
                    texts.append("<error:" + data["error"]["code"] + ">")
    return texts


def test_the_guardrail_catches_an_address_the_real_model_streams_token_by_token(
    chat_server, tmp_path
) -> None:
    direct = _stream_texts(f"{chat_server.url}/v1/completions", {}, chat_server.model)
    assert "jane.doe@example.com" in "".join(direct)
    assert not any("jane.doe@example.com" in t for t in direct)  # split over several tokens
    for mode, expected in (("redact", "[REDACTED_EMAIL]"), ("block", "<error:pii_detected>")):
        guard = {"enabled": True, "mode": mode, "on_input": False, "on_output": True}
        (tmp_path / mode).mkdir()
        gw = start_gateway(
            tmp_path / mode, chat_server.url, chat_server.model, None, guardrail=guard
        )
        try:
            auth = {"Authorization": f"Bearer {gw.master}"}
            relayed = _stream_texts(f"{gw.url}/v1/completions", auth, "chat")
        finally:
            gw.process.terminate()
            gw.process.wait(timeout=30)
        text = "".join(relayed)
        assert expected in text
        # (the stream may stop at max_tokens inside a second address: "jane." alone is no PII)
        assert "jane.doe@" not in text and "@example.com" not in text
