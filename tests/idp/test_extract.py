"""Extraction against an in-memory chat server as strict as the real one: it refuses
``logprobs`` with ``response_format`` (like today's model server) or returns them (like a
server that supports both); the pipeline uses them when present and asks without them once
refused."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import httpx
import pytest

from inferstack.errors import UpstreamError
from inferstack.idp.extract import LogprobsUnsupported, extract
from inferstack.idp.pipeline import Processor
from inferstack.idp.schemas import BUILTIN_SCHEMAS
from inferstack.idp.score import value_token_probability
from inferstack.idp.settings import IdpSettings
from inferstack.idp.store import IdpStore
from support.idp_docs import INVOICE_LINES, write_text_pdf

ANSWER = {
    "invoice_number": "INV-2041",
    "invoice_date": "2024-03-15",
    "vendor_name": "Acme Tools Ltd",
    "total_amount": "123.45",
    "currency": "EUR",
}


def _server(*, logprobs: bool, answer: dict[str, Any] = ANSWER) -> tuple[list[dict], httpx.Client]:
    seen: list[dict[str, Any]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body)
        assert body["response_format"]["type"] == "json_schema"
        if body.get("logprobs") and not logprobs:
            error = {
                "message": "no logprobs with response_format",
                "param": "logprobs",
                "type": "invalid_request_error",
                "code": "unsupported",
            }
            return httpx.Response(400, json={"error": error})
        content = json.dumps(answer)
        choice: dict[str, Any] = {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": content},
        }
        if body.get("logprobs"):
            choice["logprobs"] = {
                "content": [
                    {"token": c, "logprob": math.log(0.9), "top_logprobs": []} for c in content
                ]
            }
        return httpx.Response(200, json={"model": "m", "choices": [choice]})

    client = httpx.Client(transport=httpx.MockTransport(handle), base_url="http://model/v1")
    return seen, client


def test_a_refused_logprobs_is_its_own_signal_and_other_errors_are_upstream() -> None:
    settings = IdpSettings()
    seen, client = _server(logprobs=False)
    with pytest.raises(LogprobsUnsupported):
        extract(client, settings, "text", "invoice", BUILTIN_SCHEMAS["invoice"])
    result = extract(
        client, settings, "text", "invoice", BUILTIN_SCHEMAS["invoice"], logprobs=False
    )
    assert result.values == ANSWER and result.logprobs is None
    assert "logprobs" not in seen[-1]
    _, bad = _server(logprobs=True, answer={"invoice_number": 7})
    with pytest.raises(UpstreamError, match="does not satisfy the schema"):
        extract(bad, settings, "text", "invoice", BUILTIN_SCHEMAS["invoice"])


@pytest.mark.parametrize("server_logprobs", [True, False])
def test_pipeline_uses_logprobs_when_the_server_has_them(
    tmp_path: Path, server_logprobs: bool
) -> None:
    pdf = tmp_path / "invoice.pdf"
    write_text_pdf(pdf, INVOICE_LINES)
    settings = IdpSettings(state_dir=tmp_path, dpi=72)
    seen, client = _server(logprobs=server_logprobs)
    store = IdpStore(settings.resolved_database_url())
    processor = Processor(settings, client, store)
    doc = processor.process(pdf, "invoice", BUILTIN_SCHEMAS["invoice"])
    assert doc["logprobs"] is server_logprobs
    number = doc["fields"]["invoice_number"]
    assert number["evidence"]["text"] == "INV-2041" and number["agreement"] == 1.0
    if server_logprobs:
        assert math.isclose(number["token_probability"], 0.9, rel_tol=1e-3)
        assert len(seen) == 1
    else:
        assert number["token_probability"] is None
        assert [("logprobs" in s) for s in seen] == [True, False]
    # a second document does not ask for what was refused
    write_text_pdf(tmp_path / "two.pdf", [*INVOICE_LINES, "page two"])
    processor.process(tmp_path / "two.pdf", "invoice", BUILTIN_SCHEMAS["invoice"])
    assert ("logprobs" in seen[-1]) is server_logprobs
    store.close()


def test_a_prompt_over_the_context_is_retried_with_less_of_the_document() -> None:
    seen: list[int] = []

    def handle(request: httpx.Request) -> httpx.Response:
        prompt = json.loads(request.content)["messages"][-1]["content"]
        seen.append(len(prompt))
        if len(prompt) > 1500:  # like the model server: the prompt's tokens over its context
            error = {
                "message": "This model's maximum context length is 2048 tokens",
                "type": "invalid_request_error",
                "param": "messages",
                "code": "context_length_exceeded",
            }
            return httpx.Response(400, json={"error": error})
        message = {"role": "assistant", "content": json.dumps(ANSWER)}
        choice = {"index": 0, "finish_reason": "stop", "message": message}
        return httpx.Response(200, json={"model": "m", "choices": [choice]})

    client = httpx.Client(transport=httpx.MockTransport(handle), base_url="http://m/v1")
    settings = IdpSettings(max_prompt_chars=4000)
    text = "Invoice number: INV-2041 " * 400  # 10,000 characters, 200 pages' worth of lines
    extraction = extract(client, settings, text, "invoice", BUILTIN_SCHEMAS["invoice"])
    assert extraction.values == ANSWER
    assert len(seen) == 3 and seen[0] > seen[1] > seen[2]  # 4000, 2000, then 1000 characters
    # a prompt over the context with the whole text in it is the server's answer, not a loop
    seen.clear()
    with pytest.raises(UpstreamError):
        extract(client, settings, "x" * 1400, "invoice", BUILTIN_SCHEMAS["invoice"])
    assert len(seen) == 1


def test_tokens_spelled_by_their_bytes_keep_the_fields_in_place() -> None:
    """A token holding part of a character is spelled ``\\xNN`` (as OpenAI and our server
    do); its ``bytes`` give each token its share of the text, so the field after a split
    character is still found under its own tokens."""
    answer = {"vendor_name": "Café Ñu", "invoice_number": "INV-7"}
    content = json.dumps(answer, ensure_ascii=False)
    pieces = [bytes([b]) for b in content.encode()]  # byte tokens: "é" and "Ñ" split in two
    choice = {
        "index": 0,
        "finish_reason": "stop",
        "message": {"role": "assistant", "content": content},
        "logprobs": {
            "content": [
                {
                    "token": p.decode() if p.isascii() else f"\\x{p[0]:02x}",
                    "bytes": list(p),
                    "logprob": math.log(0.5 if content[:i].endswith('"INV-') else 0.9),
                    "top_logprobs": [],
                }
                for i, p in enumerate(pieces)
            ]
        },
    }
    client = httpx.Client(
        transport=httpx.MockTransport(
            lambda _: httpx.Response(200, json={"model": "m", "choices": [choice]})
        ),
        base_url="http://model/v1",
    )
    schema = {"type": "object", "properties": {k: {"type": "string"} for k in answer}}
    result = extract(client, IdpSettings(), "text", "invoice", schema)
    assert result.logprobs is not None
    assert "".join(t for t, _ in result.logprobs) == content
    number = value_token_probability(result.content, "invoice_number", result.logprobs)
    assert number is not None and number < 0.9  # the 0.5 token lies inside the value
