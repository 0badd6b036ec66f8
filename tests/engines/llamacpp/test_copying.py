"""The span-copy bonus on a character-level vocabulary (token id = code point)."""

from __future__ import annotations

import numpy as np
import pytest

from inferstack.engines.llamacpp.copying import MAX_SOURCE_CHARS, SpanCopy


def chars(text: str) -> list[int]:
    return [ord(c) for c in text]


def boosted(copy: SpanCopy, value: str) -> str:
    logits = np.zeros(0x250, dtype=np.float32)
    copy.add_bonus(logits, value)
    return "".join(sorted(chr(t) for t in np.flatnonzero(logits)))


def test_a_string_starts_with_any_word_and_capitals_also_in_lower_case() -> None:
    copy = SpanCopy("Set it to 72 degrees Fahrenheit.", chars, start_bonus=2, follow_bonus=5)
    assert boosted(copy, "") == "7FSdfist"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Nai", "r"),  # inside a word
        ("Ada", " "),  # a space before a capital: a name goes on
        ("Ada Lovelace", ""),  # punctuation ends the span
        ("Rome", ""),  # a space before a lowercase word ends it
        ("2025", "-"),  # a joining mark before a digit
        ("2025-03-14", ""),
        ("Lovelace", ""),
        ("Paris", ""),  # not in the source: no bonus
        ("ada", ""),  # spans are matched as written
    ],
)
def test_a_span_of_the_source_is_continued_while_it_goes_on(value: str, expected: str) -> None:
    source = "Is Ada Lovelace? Fly to Rome on 2025-03-14 via Nairobi!"
    copy = SpanCopy(source, chars, start_bonus=2, follow_bonus=5)
    assert boosted(copy, value) == expected


def test_the_bonus_is_added_where_the_grammar_allows_and_masked_tokens_stay_masked() -> None:
    copy = SpanCopy("in Nairobi", chars, start_bonus=2, follow_bonus=5)
    logits = np.zeros(0x250, dtype=np.float32)
    logits[ord("r")] = -np.inf
    logits[ord("x")] = 1.0
    copy.add_bonus(logits, "Nai")
    assert logits[ord("r")] == -np.inf and logits[ord("x")] == 1.0


def test_a_long_source_keeps_its_end() -> None:
    source = "x" * (MAX_SOURCE_CHARS * 2) + " Zagreb"
    copy = SpanCopy(source, chars, start_bonus=2, follow_bonus=5)
    assert len(copy.source) == MAX_SOURCE_CHARS and boosted(copy, "Zag") == "r"
