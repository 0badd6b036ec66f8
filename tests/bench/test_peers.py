"""Peer helpers: build flags, LiteLLM config, process start/stop, the reference app's framing."""

from __future__ import annotations

import json
import sys

import pytest

from inferstack.bench.peers import Peer, PeerError, free_port, make_peer
from inferstack.bench.peers.litellm import litellm_config
from inferstack.bench.peers.llama_server import cmake_args
from inferstack.bench.peers.reference_app import _chunk, _prompt


def test_llama_server_build_flags() -> None:
    x86 = cmake_args("x86_64")
    assert "-DLLAMA_USE_PREBUILT_UI=OFF" in x86 and "-DLLAMA_BUILD_SERVER=ON" in x86
    assert any(a.startswith("-DCMAKE_C_FLAGS=") and "-mno-amx-tile" in a for a in x86)
    assert any(a.startswith("-DCMAKE_CXX_FLAGS=") and "-mno-amx-int8" in a for a in x86)
    assert not any("amx" in a for a in cmake_args("aarch64"))


def test_litellm_config_routes_the_model_to_the_upstream() -> None:
    cfg = json.loads(litellm_config("http://127.0.0.1:8000/v1", "default"))
    (entry,) = cfg["model_list"]
    assert entry["model_name"] == "default"
    assert entry["litellm_params"]["api_base"] == "http://127.0.0.1:8000/v1"
    assert entry["litellm_params"]["model"] == "openai/default"


def test_litellm_needs_an_upstream() -> None:
    with pytest.raises(PeerError, match="upstream"):
        make_peer("litellm")


def test_peer_process_starts_waits_for_health_and_stops(tmp_path) -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    with Peer("http", cmd, port, "/", tmp_path / "http.log").start(timeout_s=30) as peer:
        assert peer.base_url == f"http://127.0.0.1:{port}/v1"
        assert peer.process is not None and peer.process.poll() is None
    assert peer.process.poll() is not None


def test_peer_that_dies_is_reported(tmp_path) -> None:
    cmd = [sys.executable, "-c", "raise SystemExit(3)"]
    with pytest.raises(PeerError, match="exited with 3"):
        Peer("dead", cmd, free_port(), "/", tmp_path / "dead.log").start(timeout_s=30)


def test_reference_design_prompt_and_chunks() -> None:
    chat = {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi?"}]}
    assert _prompt(chat) == "Q: hi?\nA:"
    assert _prompt({"prompt": "raw"}) == "raw"
    parts = {"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}]}]}
    assert _prompt(parts) == "Q: a\nA:"
    assert _chunk("chat", "id", "m", "x", None)["choices"][0]["delta"] == {"content": "x"}
    assert _chunk("completions", "id", "m", "x", "stop")["choices"][0]["text"] == "x"


class _MergingLlama:
    """Stands in for llama_cpp.Llama the way it really streams: it samples five tokens (the
    last one end-of-generation) but yields three pieces, as it does while it holds back partial
    UTF-8; every sampling step runs the logits processors."""

    def __init__(self, **kwargs: object) -> None:
        pass

    def tokenize(self, text: bytes) -> list[int]:
        return list(range(len(text.split())))

    def create_completion(self, prompt: str, *, stream: bool = False, logits_processor=None,
                          **kwargs: object):  # fmt: skip
        pieces = {1: "a", 3: "\u00e9\u00e9", 4: None}  # step → piece (None: EOG, no text)

        def gen():
            for step in range(5):
                for processor in logits_processor or []:
                    processor([], [0.0])
                if step in pieces and pieces[step] is not None:
                    yield {"choices": [{"text": pieces[step], "finish_reason": None}]}
            yield {"choices": [{"text": "", "finish_reason": "stop"}]}

        return gen()


def test_reference_usage_counts_sampled_tokens_with_eog(monkeypatch) -> None:
    import llama_cpp
    from fastapi.testclient import TestClient

    from inferstack.bench.peers.reference_app import build_reference_app

    monkeypatch.setattr(llama_cpp, "Llama", _MergingLlama)
    client = TestClient(build_reference_app("unused.gguf"))
    body = {"prompt": "one two three", "max_tokens": 16, "stream": True,
            "stream_options": {"include_usage": True}}  # fmt: skip
    lines = client.post("/v1/completions", json=body).text.splitlines()
    events = [json.loads(ln[5:]) for ln in lines if ln.startswith("data:") and "[DONE]" not in ln]
    usage = events[-1]["usage"]
    # Five sampled tokens (EOG included, as inferstack and llama-server count), not 2 pieces.
    assert usage == {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}
