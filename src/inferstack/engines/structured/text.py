"""A JSON-schema constraint over text, for engines whose grammar runs elsewhere.

vLLM enforces the grammar itself but cannot know the output budget; to close a value that
``max_tokens`` cuts, the engine mirrors the output here. The mirror is an llguidance matcher
over a byte vocabulary (one token per byte, plus an end token), so any text can be fed, and the
same :class:`ClosingSearch` as the llama.cpp engine finds the closing text.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import llguidance

from inferstack.engines.structured.closing import ByteTokens, ClosingSearch, JsonScan
from inferstack.engines.structured.compiler import GrammarCompiler

__all__ = ["TextConstraint", "byte_compiler"]

_EOS = 256


@dataclass(frozen=True)
class _ByteVocab:
    tokens: list[bytes]
    eos_token_id: int = _EOS
    bos_token_id: int | None = None

    def __call__(self, data: bytes) -> list[int]:
        return list(data)


@cache
def _byte_tokenizer() -> llguidance.LLTokenizer:
    vocab = _ByteVocab([bytes([b]) for b in range(256)] + [b"\xff<eos>"])
    return llguidance.LLTokenizer(llguidance.TokenizerWrapper(vocab))


@cache
def byte_compiler() -> GrammarCompiler:
    """The schema compiler for text constraints (one per process). Whitespace is flexible: the
    mirrored engine decides it (vLLM's guidance backend writes compact or spaced JSON depending
    on its llguidance version), and closing searches never add any."""
    return GrammarCompiler(_byte_tokenizer(), separators=(",", ":"), flexible_whitespace=True)


class TextConstraint:
    """Feeds text to a schema's grammar and finds the shortest text that completes it."""

    def __init__(self, schema: dict[str, Any] | None, *, param: str, lazy: bool = False) -> None:
        compiler = byte_compiler()
        grammar = compiler.compile(schema, param=param, lazy=lazy)
        self._matcher = llguidance.LLMatcher(
            _byte_tokenizer(), grammar.grammar, log_level=0, limits=compiler.limits.parser_limits()
        )
        self._scan = JsonScan()
        self._search = ClosingSearch(ByteTokens(list))

    def can_feed(self, text: str) -> bool:
        data = list(text.encode())
        return self._matcher.validate_tokens(data) == len(data)

    def feed(self, text: str) -> None:
        data = text.encode()
        if not self._matcher.consume_tokens(list(data)):
            raise ValueError(f"text outside the grammar: {self._matcher.get_error()}")
        self._scan.feed(data)

    def closing(self) -> str | None:
        """The shortest completion found within the search's bounds, or ``None``."""
        found = self._search.closing(self._matcher, self._scan)
        return None if found is None else found.decode("utf-8", errors="replace")

    @property
    def complete(self) -> bool:
        return self._matcher.is_accepting()
