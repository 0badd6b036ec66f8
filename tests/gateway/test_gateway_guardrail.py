"""The PII guardrail: linear on hostile input, every text field, addresses split across events."""

from __future__ import annotations

import json

import pytest

from inferstack.errors import InvalidRequestError
from inferstack.gateway.guardrail import PiiGuardrail, email_spans
from inferstack.gateway.settings import GuardrailSettings
from inferstack.gateway.stream_guard import StreamGuard


def guard(mode: str = "redact") -> PiiGuardrail:
    return PiiGuardrail(GuardrailSettings(enabled=True, mode=mode, on_output=True))


@pytest.mark.timeout(60)  # the old e-mail pattern took minutes on the first of these
@pytest.mark.parametrize(
    "text",
    ["a" * 1_000_000, ("a" * 63 + "@") * 15_000, "a@b." * 250_000, "1 " * 500_000],
    ids=["letters", "at-signs", "dots", "digits"],
)
def test_a_megabyte_of_hostile_text_is_scanned_in_linear_time(text: str) -> None:
    clean, found = guard().redact(text)
    assert len(clean) <= len(text) + 16 * len(found)


def test_email_spans() -> None:
    text = "mail jane.doe@example.com, bob@corp.io; not x@y or @nobody.org"
    assert [text[a:b] for a, b in email_spans(text)] == ["jane.doe@example.com", "bob@corp.io"]


def test_every_text_field_of_a_request_is_scanned() -> None:
    body = {
        "model": "chat",
        "messages": [
            {"role": "user", "content": "look me up"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"who": "ann@corp.io"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "phone 415-555-0134"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "lookup",
                    "description": "Ask admin@corp.io",
                    "parameters": {
                        "type": "object",
                        "properties": {"who": {"type": "string", "description": "ssn 123-45-6789"}},
                    },
                },
            }
        ],
    }
    with pytest.raises(InvalidRequestError):
        guard("block").check_request(json.loads(json.dumps(body)))
    assert guard("redact").check_request(body)
    text = json.dumps(body)
    for secret in ("ann@corp.io", "415-555-0134", "admin@corp.io", "123-45-6789"):
        assert secret not in text
    arguments = body["messages"][1]["tool_calls"][0]["function"]["arguments"]
    assert json.loads(arguments) == {"who": "[REDACTED_EMAIL]"}  # still valid JSON


def _chunk(content: str, finish: str | None = None) -> dict:
    return {"choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}]}


SPLIT = ["write to jane", ".d", "oe@exa", "mple", ".com", " or call 415", "-555-", "0134", " now"]


def test_an_address_split_across_events_is_caught_before_any_piece_is_released() -> None:
    stream = StreamGuard(guard())
    released = []
    for piece in [*SPLIT[:-1], None]:
        event = _chunk(piece) if piece is not None else _chunk(SPLIT[-1], "stop")
        stream.event(event)
        released.append(event["choices"][0]["delta"]["content"])
    assert "".join(released) == "write to [REDACTED_EMAIL] or call [REDACTED_PHONE] now"
    assert not any("jane" in r or "@" in r or "555" in r for r in released)

    blocking = StreamGuard(guard("block"))
    sent = []
    with pytest.raises(InvalidRequestError):
        for piece in SPLIT:
            event = _chunk(piece)
            blocking.event(event)
            sent.append(event["choices"][0]["delta"]["content"])
    assert "".join(sent) == "write to "  # nothing of the address went out


def test_held_text_is_released_at_the_end_of_a_stream_without_finish_reason() -> None:
    stream = StreamGuard(guard())
    event = _chunk("bye bob@corp.io")
    stream.event(event)
    assert event["choices"][0]["delta"]["content"] == "bye "
    assert stream.rest() == {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": "[REDACTED_EMAIL]"}}],
    }
    assert stream.rest() is None


def test_tool_call_arguments_are_guarded_in_streams() -> None:
    stream = StreamGuard(guard())
    pieces = ['{"to": "ann', "@corp", '.io"}']
    released = []
    for i, piece in enumerate(pieces):
        call = {"index": 0, "function": {"arguments": piece}}
        event = {
            "choices": [
                {
                    "index": 0,
                    "delta": {"tool_calls": [call]},
                    "finish_reason": "tool_calls" if i == len(pieces) - 1 else None,
                }
            ]
        }
        stream.event(event)
        for c in event["choices"][0]["delta"]["tool_calls"]:
            released.append(c["function"].get("arguments", ""))
    assert json.loads("".join(released)) == {"to": "[REDACTED_EMAIL]"}


@pytest.mark.parametrize("mode", ["block", "redact"])
async def test_split_addresses_in_a_proxied_stream(make_gateway, upstream, mode) -> None:
    upstream.words = SPLIT
    settings = {"enabled": True, "mode": mode, "on_input": False, "on_output": True}
    async with make_gateway(guardrail=settings) as gw:
        response = await gw.chat(gw.master, stream=True)
    events = [b[6:] for b in response.text.split("\n\n") if b.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(
        c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices")
    )
    assert "jane" not in text and "555" not in text
    if mode == "redact":
        assert text == "write to [REDACTED_EMAIL] or call [REDACTED_PHONE] now"
    else:
        assert text == "write to "
        assert chunks[-1]["error"]["code"] == "pii_detected"


def test_an_inline_image_passes_unchanged_while_the_text_beside_it_is_redacted() -> None:
    # 4111111111111111 passes the Luhn check: inside base64 it is pixels, not a card number
    image = {"url": "data:image/png;base64,iVBORw0KGgo4111111111111111AAAA", "detail": "high"}
    linked = {"url": "https://img.example.com/scan.png?owner=ann@corp.io"}
    body = {
        "model": "vision",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "card 4111 1111 1111 1111 on this page?"},
                    {"type": "image_url", "image_url": dict(image)},
                    {"type": "image_url", "image_url": dict(linked)},
                ],
            }
        ],
    }
    assert guard().check_request(body)
    text, inline, remote = body["messages"][0]["content"]
    assert text["text"] == "card [REDACTED_CARD] on this page?"
    assert inline["image_url"] == image
    assert remote["image_url"]["url"] == "https://img.example.com/scan.png?owner=[REDACTED_EMAIL]"
