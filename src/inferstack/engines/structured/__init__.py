"""Structured output on llguidance: JSON Schema → grammar (:mod:`.compiler`), the shortest
closing text for budget-safe ends (:mod:`.closing`), and realistic example values for prompts
(:mod:`.examples`). Engine-specific matching (token masks on a model's vocabulary) lives with
each engine.
"""

from inferstack.engines.structured.closing import ByteTokens, ClosingSearch, JsonScan
from inferstack.engines.structured.compiler import (
    ANY_JSON_OBJECT,
    CompiledGrammar,
    GrammarCompiler,
    GrammarLimits,
)
from inferstack.engines.structured.examples import example_value
from inferstack.engines.structured.text import TextConstraint, byte_compiler

__all__ = [
    "ANY_JSON_OBJECT",
    "ByteTokens",
    "ClosingSearch",
    "CompiledGrammar",
    "GrammarCompiler",
    "GrammarLimits",
    "JsonScan",
    "TextConstraint",
    "byte_compiler",
    "example_value",
]
