"""Budget-safe closing: from any prefix of a valid output, the closing text the search finds
completes it into JSON that validates (formats checked), with bounded work."""

from __future__ import annotations

import json

import jsonschema
import llguidance
import pytest

from engines.structured.corpus import schemas
from inferstack.engines.llamacpp.structured import GrammarVocab
from inferstack.engines.structured import ClosingSearch, JsonScan, example_value

FORMATS = jsonschema.Draft202012Validator.FORMAT_CHECKER


def matcher_after(vocab: GrammarVocab, schema: dict, prefix: bytes) -> llguidance.LLMatcher:
    grammar = vocab.compiler.compile(schema, param="p")
    m = vocab.matcher(grammar)
    assert m.consume_tokens([vocab.bytes.by_byte[b] for b in prefix]), m.get_error()
    return m


def closes(vocab: GrammarVocab, schema: dict, prefix: bytes) -> bytes:
    scan = JsonScan()
    scan.feed(prefix)
    search = ClosingSearch(vocab.bytes)
    closing = search.closing(matcher_after(vocab, schema, prefix), scan)
    assert closing is not None, f"no closing after {prefix!r}"
    assert search.work <= search.fuel
    return closing


CASES = [name for name, _ in schemas() if name != "Frozenset"]


@pytest.mark.parametrize("name", CASES)
def test_every_prefix_of_an_example_closes_into_a_valid_value(
    vocab: GrammarVocab, name: str
) -> None:
    schema = dict(schemas())[name]
    value = example_value(schema)
    if value is None:  # a pattern with no example: close from the start only
        text = b""
    else:
        text = json.dumps(value, ensure_ascii=False).encode()
        jsonschema.validate(value, schema, format_checker=FORMATS)
    for cut in sorted({0, len(text) // 3, len(text) // 2, len(text) - 1, *range(0, len(text), 7)}):
        prefix = text[:cut]
        try:
            matcher_after(vocab, schema, prefix)
        except AssertionError:
            continue  # our example's serialization is not the grammar's here (e.g. a float)
        whole = prefix + closes(vocab, schema, prefix)
        jsonschema.validate(json.loads(whole), schema, format_checker=FORMATS)


def test_e_mail_code_and_date_close_within_a_few_bytes(vocab: GrammarVocab) -> None:
    schema = {
        "type": "object",
        "properties": {
            "email": {"type": "string", "format": "email"},
            "code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{3}$"},
            "born": {"type": "string", "format": "date"},
        },
        "required": ["email", "code", "born"],
    }
    closing = closes(vocab, schema, b'{"email": "jo')
    assert len(closing) < 60
    whole = json.loads(b'{"email": "jo' + closing)
    jsonschema.validate(whole, schema, format_checker=FORMATS)


def test_a_completion_that_cannot_be_short_returns_none_within_the_fuel(
    vocab: GrammarVocab,
) -> None:
    schema = {"type": "string", "minLength": 400}
    search = ClosingSearch(vocab.bytes, max_choices=64)
    assert search.closing(matcher_after(vocab, schema, b'"'), JsonScan(in_string=True)) is None
    assert search.work <= search.fuel


def test_the_scan_counts_the_bytes_of_the_string_being_written() -> None:
    scan = JsonScan()
    scan.feed(b'{"city": "Nai')
    assert scan.in_string and scan.chars == 3
    scan.feed(b'\\"r')
    assert scan.chars == 6 and not scan.escaped
    scan.feed(b'", "b": "')
    assert scan.in_string and scan.chars == 0
    assert scan.copy() == scan
