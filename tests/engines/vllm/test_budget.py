"""JsonBudget: structured output on vLLM stays valid JSON when max_tokens cuts it."""

from __future__ import annotations

import json

import pytest

from inferstack.engines.vllm.budget import JsonBudget
from inferstack.errors import InvalidRequestError

SCHEMA = {
    "type": "object",
    "properties": {"note": {"type": "string"}, "n": {"type": "integer"}},
    "required": ["note", "n"],
}


def utf8_tokens(text: str) -> int:
    """A byte-level tokenizer without merges: one token per UTF-8 byte (the worst case)."""
    return len(text.encode())


def run(chunks: list[str], budget: int, *, cut: bool) -> tuple[str, int]:
    tracker = JsonBudget(SCHEMA, budget=budget, count_tokens=utf8_tokens)
    sent = "".join(tracker.feed(c, utf8_tokens(c)) for c in chunks)
    rest, tokens = tracker.finish(cut=cut)
    return sent + rest, tokens


def test_a_cut_value_is_closed_within_the_budget() -> None:
    chunks = ['{"', "note", '": "', "a long ", "note that ", "goes on"]
    budget = sum(map(utf8_tokens, chunks))  # vLLM stopped exactly here
    text, tokens = run(chunks, budget, cut=True)
    value = json.loads(text)
    assert set(value) == {"note", "n"} and isinstance(value["n"], int)
    assert tokens <= budget
    assert value["note"].startswith("a long")


def test_text_is_released_while_the_closing_fits() -> None:
    tracker = JsonBudget(SCHEMA, budget=200, count_tokens=utf8_tokens)
    assert tracker.feed('{"note": "hi', 12) == '{"note": "hi'
    tight = JsonBudget(SCHEMA, budget=20, count_tokens=utf8_tokens)
    first = tight.feed('{"note": "', 10)
    held = tight.feed("abcdefgh", 8)  # 18 tokens + the closing '", "n": 0}' do not fit 20
    assert first == '{"note": "' and held == ""
    rest, tokens = tight.finish(cut=True)
    assert json.loads(first + held + rest) == {"note": "", "n": 0}
    assert tokens <= 20


def test_a_finished_value_passes_unchanged() -> None:
    chunks = ['{"note": "x", ', '"n": 4}']
    text, tokens = run(chunks, 18, cut=False)
    assert json.loads(text) == {"note": "x", "n": 4}
    assert tokens == sum(map(utf8_tokens, chunks))


def test_smallest_value_sets_the_least_budget() -> None:
    tracker = JsonBudget(SCHEMA, budget=100, count_tokens=utf8_tokens)
    assert tracker.smallest_value_tokens() == len('{"note":"","n":0}')


def test_output_outside_the_mirror_passes_through() -> None:
    tracker = JsonBudget(SCHEMA, budget=50, count_tokens=utf8_tokens)
    assert tracker.feed('{"note": "a"', 12) == '{"note": "a"'
    assert tracker.feed("]]]]", 4) == "]]]]"  # not JSON the schema allows: passed on
    assert not tracker.tracking
    assert tracker.finish(cut=True) == ("", 16)


def test_bad_schema_is_refused() -> None:
    with pytest.raises(InvalidRequestError):
        JsonBudget({"type": "object", "required": 3}, budget=10, count_tokens=utf8_tokens)
