"""The schema compiler: what llguidance enforces, what it refuses (a 400 naming the keyword),
the byte-bounded cache, and schemas built to blow up an automaton."""

from __future__ import annotations

import json

import llguidance
import numpy as np
import pytest

from engines.structured.corpus import schemas
from inferstack.engines.llamacpp.structured import (
    GrammarVocab,
    StructuredState,
    fill_masks,
    greedy_token,
    mask_allows,
    mask_logits,
)
from inferstack.engines.structured import GrammarCompiler, GrammarLimits
from inferstack.errors import InvalidRequestError, UnsupportedFeatureError


def compiler() -> GrammarCompiler:
    return GrammarCompiler(None)


def test_pattern_and_format_are_enforced_not_refused() -> None:
    schema = {
        "type": "object",
        "properties": {
            "code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{3}$"},
            "born": {"type": "string", "format": "date"},
            "mail": {"type": "string", "format": "email"},
        },
        "required": ["code", "born", "mail"],
    }
    assert compiler().compile(schema, param="response_format").grammar


@pytest.mark.parametrize(
    ("schema", "keyword"),
    [
        ({"type": "array", "uniqueItems": True}, "uniqueItems"),
        ({"type": "object", "properties": {"x": {"not": {"type": "string"}}}}, "not"),
        ({"type": "object", "if": {}, "then": {}}, "if"),
        ({"type": "string", "format": "uri-template"}, "uri-template"),
    ],
)
def test_unsupported_keywords_are_a_400_naming_them(schema: dict, keyword: str) -> None:
    with pytest.raises(UnsupportedFeatureError) as info:
        compiler().compile(schema, param="tools.0.function.parameters")
    assert keyword in info.value.message
    assert info.value.param == "tools.0.function.parameters"
    assert info.value.status == 400


@pytest.mark.parametrize(
    "schema",
    [
        {"type": 5},
        {"type": "object", "properties": {"x": {"$ref": "#/$defs/missing"}}},
        {"type": "string", "pattern": "(unclosed"},
        [1, 2],
        {"type": "number", "minimum": float("nan")},
    ],
)
def test_invalid_schemas_are_a_400(schema: object) -> None:
    with pytest.raises(InvalidRequestError) as info:
        compiler().compile(schema, param="response_format")  # type: ignore[arg-type]
    assert info.value.param == "response_format"
    assert not isinstance(info.value, UnsupportedFeatureError)


def test_pydantic_corpus_compiles_except_what_a_grammar_cannot_enforce() -> None:
    refused = {}
    for name, schema in schemas():
        try:
            compiler().compile(schema, param="response_format")
        except UnsupportedFeatureError as exc:
            refused[name] = exc.message
    assert len(schemas()) >= 40
    assert list(refused) == ["Frozenset"]  # set[int]: uniqueItems
    assert "uniqueItems" in refused["Frozenset"]


def test_compiled_grammars_are_cached_within_a_byte_bound() -> None:
    small = GrammarCompiler(None, cache_bytes=4096)
    one = {"type": "object", "properties": {"a": {"type": "string"}}}
    small.compile(one, param="p")
    small.compile(dict(one), param="p")
    assert small.compiled == 1
    for i in range(20):
        small.compile({"type": "object", "properties": {f"k{i}": {"type": "integer"}}}, param="p")
    assert small.cached_bytes <= 4096
    small.compile(one, param="p")
    assert small.compiled == 22  # evicted, compiled again
    lazy = small.compile(one, param="p", lazy=True)
    assert lazy.grammar != small.compile(one, param="p").grammar


def test_oversized_schema_is_refused_before_compiling() -> None:
    limited = GrammarCompiler(None, limits=GrammarLimits(max_schema_bytes=1000))
    schema = {"type": "object", "properties": {f"p{i}": {"type": "string"} for i in range(100)}}
    with pytest.raises(InvalidRequestError, match="larger than"):
        limited.compile(schema, param="response_format")
    assert limited.compiled == 0


def bomb(levels: int) -> dict:
    """Each level an ``anyOf`` of ten arrays of the next: states multiply per level."""
    defs = {}
    for i in range(levels):
        item = {"$ref": f"#/$defs/L{i + 1}"} if i + 1 < levels else {"type": "integer"}
        defs[f"L{i}"] = {
            "anyOf": [
                {"type": "array", "items": item, "minItems": k, "maxItems": k + 3}
                for k in range(10)
            ]
        }
    return {"$defs": defs, "$ref": "#/$defs/L0"}


def walk(vocab: GrammarVocab, schema: dict, limits: GrammarLimits, steps: int) -> StructuredState:
    """Random tokens among those the mask allows, as a sampler would pick them."""
    grammar = GrammarCompiler(vocab.tokenizer, limits=limits).compile(schema, param="p")
    matcher = llguidance.LLMatcher(
        vocab.tokenizer, grammar.grammar, log_level=0, limits=limits.parser_limits()
    )
    state = StructuredState(vocab, matcher, lazy=False)
    masks = np.zeros((1, vocab.words), dtype=np.int32)
    rng = np.random.default_rng(7)
    for _ in range(steps):
        fill_masks(vocab, [state], masks)
        if state.matcher.is_error() or state.finished:
            break
        allowed = np.nonzero(state.allowed(masks[0]))[0]
        assert allowed.size, "a live matcher always allows some token"
        assert state.matcher.consume_token(int(rng.choice(allowed)))
    return state


def test_schema_bomb_runs_with_bounded_work(vocab: GrammarVocab) -> None:
    schema = bomb(5)
    assert len(json.dumps(schema)) > 3500
    state = walk(vocab, schema, GrammarLimits(), steps=80)
    assert not state.matcher.is_error()  # within the default per-step item and lexer fuel
    deeper = walk(vocab, bomb(8), GrammarLimits(), steps=40)
    assert not deeper.matcher.is_error()


def test_work_beyond_the_limits_is_an_error_not_a_stall(vocab: GrammarVocab) -> None:
    tight = GrammarLimits(step_max_items=20)
    state = walk(vocab, bomb(5), tight, steps=80)
    assert state.matcher.is_error()
    assert "max" in state.matcher.get_error().lower() or "limit" in state.matcher.get_error()


@pytest.mark.parametrize("vocab_size", [262144, 1000, 33])
def test_mask_logits_matches_the_bitmask(vocab_size: int) -> None:
    rng = np.random.default_rng(vocab_size)
    allowed = rng.random(vocab_size) < 0.3
    allowed[: vocab_size // 3] = True  # a run, as masks inside strings have
    padded = np.zeros(((vocab_size + 31) // 32) * 32, dtype=bool)
    padded[:vocab_size] = allowed
    words = np.packbits(padded, bitorder="little").view(np.int32)
    logits = rng.standard_normal(vocab_size).astype(np.float32)
    expected = np.where(allowed, logits, -np.inf)
    mask_logits(logits, words)
    assert np.array_equal(logits, expected)


@pytest.mark.parametrize("vocab_size", [262144, 1000, 33])
def test_greedy_token_is_the_argmax_of_the_masked_logits(vocab_size: int) -> None:
    """Masking only when the raw argmax is refused picks what masking first picks, ties
    included (the first maximum), and leaves allowed argmaxes' logits untouched."""
    rng = np.random.default_rng(vocab_size + 1)
    masked_any = unmasked_any = False
    for trial in range(40):
        allowed = rng.random(vocab_size) < (0.9 if trial % 2 else 0.05)
        allowed[rng.integers(vocab_size)] = True
        padded = np.zeros(((vocab_size + 31) // 32) * 32, dtype=bool)
        padded[:vocab_size] = allowed
        words = np.packbits(padded, bitorder="little").view(np.int32)
        logits = rng.integers(0, 6, vocab_size).astype(np.float32)  # many ties
        expected = int(np.where(allowed, logits, -np.inf).argmax())
        raw_allowed = bool(allowed[int(logits.argmax())])
        before = logits.copy()
        assert greedy_token(logits, words) == expected
        assert mask_allows(words, expected)
        if raw_allowed:
            unmasked_any = True
            assert np.array_equal(logits, before)
        else:
            masked_any = True
    assert masked_any and unmasked_any
    logits = rng.standard_normal(vocab_size).astype(np.float32)
    assert greedy_token(logits, None) == int(logits.argmax())


def test_dates_start_at_year_one() -> None:
    """Year 0000 is RFC 3339 but no Python datetime: pydantic could not read it back."""
    from inferstack.engines.structured import TextConstraint

    for fmt in ("date", "date-time"):
        constraint = TextConstraint({"type": "string", "format": fmt}, param="p")
        assert not constraint.can_feed('"0000-')
        assert constraint.can_feed('"2024-05-17')
