"""The echo peer (fast fake upstream) and the gateway peer in front of it: a handful of
requests each, plus how ``--peer-upstream`` is resolved in a run with several peers."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from inferstack.bench.peers import Peer, PeerError, echo_server, gateway_proxy, make_peer
from inferstack.bench.peers.echo_app import TOKEN_TEXT
from inferstack.bench.peers.gateway import gateway_config
from inferstack.cli.bench import _peer_upstream

CHAT = {"messages": [{"role": "user", "content": "say something nice"}]}


def _events(lines: Iterator[str]) -> list[dict | str]:
    out: list[dict | str] = []
    for line in lines:
        if line.startswith("data: "):
            data = line[len("data: ") :]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def _stream(base_url: str, path: str, body: dict, key: str | None = None) -> list[dict | str]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with httpx.stream("POST", base_url + path, json=body, headers=headers, timeout=30) as reply:
        assert reply.status_code == 200, reply.read()
        assert reply.headers["content-type"].startswith("text/event-stream")
        return _events(reply.iter_lines())


def _texts(events: list[dict | str]) -> list[str]:
    texts = []
    for e in events:
        if isinstance(e, dict) and e["choices"]:
            c = e["choices"][0]
            text = c["delta"].get("content") if "delta" in c else c.get("text")
            if text:
                texts.append(text)
    return texts


@pytest.fixture(scope="module")
def echo() -> Iterator[Peer]:
    with echo_server().start(timeout_s=60) as peer:
        yield peer


def test_echo_streams_chat_tokens_and_usage(echo: Peer) -> None:
    body = {**CHAT, "model": "echo", "stream": True, "stream_options": {"include_usage": True}}
    events = _stream(echo.base_url, "/chat/completions", body)
    assert events[-1] == "[DONE]"
    assert _texts(events) == [TOKEN_TEXT] * 16
    usage = [e for e in events if isinstance(e, dict) and e.get("usage")]
    assert len(usage) == 1 and usage[0]["choices"] == []
    assert usage[0]["usage"]["completion_tokens"] == 16
    assert usage[0]["usage"]["prompt_tokens"] == 3
    finishes = [e["choices"][0]["finish_reason"] for e in events[:-1] if e["choices"]]
    assert finishes[-1] == "stop" and set(finishes[:-1]) == {None}


def test_echo_without_usage_option_sends_no_usage(echo: Peer) -> None:
    events = _stream(echo.base_url, "/chat/completions", {**CHAT, "stream": True})
    assert len(_texts(events)) == 16
    assert not any(isinstance(e, dict) and e.get("usage") for e in events)


def test_echo_completions_stream_and_max_tokens_cap(echo: Peer) -> None:
    body = {"prompt": "a b", "max_tokens": 5, "stream": True}
    body["stream_options"] = {"include_usage": True}
    events = _stream(echo.base_url, "/completions", body)
    assert _texts(events) == [TOKEN_TEXT] * 5
    assert events[-2]["usage"]["completion_tokens"] == 5  # type: ignore[index]
    assert events[-3]["choices"][0]["finish_reason"] == "length"  # type: ignore[index]


def test_echo_non_streaming_and_models(echo: Peer) -> None:
    models = httpx.get(echo.base_url + "/models", timeout=10).json()
    assert [m["id"] for m in models["data"]] == ["echo"]
    chat = httpx.post(echo.base_url + "/chat/completions", json=CHAT, timeout=10).json()
    assert chat["object"] == "chat.completion"
    assert chat["choices"][0]["message"]["content"] == TOKEN_TEXT * 16
    assert chat["usage"]["completion_tokens"] == 16
    text = httpx.post(echo.base_url + "/completions", json={"prompt": "x"}, timeout=10).json()
    assert text["choices"][0]["text"] == TOKEN_TEXT * 16
    bad = httpx.post(echo.base_url + "/chat/completions", content=b"{", timeout=10)
    assert bad.status_code == 400
    assert httpx.get(echo.url + "/nope", timeout=10).status_code == 404


def test_gateway_config_routes_the_group_to_the_upstream() -> None:
    cfg = json.loads(gateway_config("http://127.0.0.1:9/v1", "echo"))
    (dep,) = cfg["model_groups"]["echo"]["deployments"]
    assert dep == {"api_base": "http://127.0.0.1:9/v1", "model": "echo"}


def test_gateway_needs_an_upstream() -> None:
    with pytest.raises(PeerError, match="gateway needs --upstream"):
        make_peer("gateway")


def test_gateway_peer_proxies_to_echo_with_a_virtual_key(echo: Peer) -> None:
    gateway = gateway_proxy(echo.base_url)
    state_dir = gateway.state_dir
    with gateway.start(timeout_s=120) as peer:
        key = peer.api_key
        assert key and key.startswith("sk-") and not key.startswith("sk-master-")
        assert "sk-master-" not in peer.log_path.read_text(errors="replace")
        headers = {"Authorization": f"Bearer {key}"}
        models = httpx.get(peer.base_url + "/models", headers=headers, timeout=10).json()
        assert [m["id"] for m in models["data"]] == ["echo"]
        body = {**CHAT, "model": "echo", "stream": True}
        body["stream_options"] = {"include_usage": True}
        for _ in range(3):
            events = _stream(peer.base_url, "/chat/completions", body, key)
            assert events[-1] == "[DONE]"
            assert "".join(_texts(events)) == TOKEN_TEXT * 16
            usage = [e["usage"] for e in events if isinstance(e, dict) and e.get("usage")]
            assert usage and usage[-1]["completion_tokens"] == 16
        anonymous = httpx.post(peer.base_url + "/chat/completions", json=body, timeout=10)
        assert anonymous.status_code == 401
    assert not Path(state_dir).exists()


def _args(upstream: str | None) -> argparse.Namespace:
    return argparse.Namespace(peer_upstream=upstream)


class _Started:
    def __init__(self, name: str, base_url: str) -> None:
        self.name, self.base_url = name, base_url


def test_peer_upstream_resolution() -> None:
    echo_peer = _Started("echo", "http://127.0.0.1:7001/v1")
    started = [echo_peer]
    # No --peer-upstream: the first named target, else the first started peer.
    assert _peer_upstream(_args(None), "gateway", [], started) == echo_peer.base_url
    named = ["http://127.0.0.1:8000"]
    assert _peer_upstream(_args(None), "gateway", named, started) == "http://127.0.0.1:8000/v1"
    # A URL (normalized to /v1), or the name of a peer started before.
    url = "http://127.0.0.1:9000"
    assert _peer_upstream(_args(url), "litellm", named, started) == url + "/v1"
    assert _peer_upstream(_args("echo"), "litellm", named, started) == echo_peer.base_url
    with pytest.raises(PeerError, match="start that peer before gateway"):
        _peer_upstream(_args("echo"), "gateway", [], [])
    assert _peer_upstream(_args(None), "gateway", [], []) is None
