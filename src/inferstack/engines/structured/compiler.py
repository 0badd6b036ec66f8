"""JSON Schema → llguidance grammar, validated once and cached with a byte bound.

llguidance (the grammar engine behind llama.cpp's ``LLAMA_LLGUIDANCE``, vLLM and SGLang)
compiles JSON Schema — ``pattern``, ``format``, ``$ref``, ``anyOf``/``oneOf``/``allOf``,
``additionalProperties``, ``prefixItems``, numeric bounds … — into a lexer and an Earley parser
whose token masks cost a bounded amount of work per step (its parser limits are its "fuel").
A keyword it cannot enforce is reported as a 400 naming the keyword; a schema whose grammar is
too large, or too expensive to build, is a 400 too, before any work starts.

Output is compact JSON with the usual separators (``", "`` and ``": "``), and object properties
come in the schema's order (so a tool call's ``name`` comes before its ``arguments``).
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import llguidance

from inferstack.errors import InvalidRequestError, UnsupportedFeatureError

__all__ = [
    "ANY_JSON_OBJECT",
    "CompiledGrammar",
    "GrammarCompiler",
    "GrammarLimits",
    "close_objects",
]

ANY_JSON_OBJECT: dict[str, Any] = {"type": "object"}
"""``response_format: json_object``: any JSON object."""

_JSON_OPTIONS = {
    "whitespace_flexible": False,
    "item_separator": ", ",
    "key_separator": ": ",
}
_UNIMPLEMENTED = re.compile(r"Unimplemented keys: \[(.*?)\]")


@dataclass(frozen=True, slots=True)
class GrammarLimits:
    """Bounds on what one schema may cost (llguidance's parser limits)."""

    max_grammar_size: int = 500_000
    """Grammar symbols and lexemes after compiling the schema."""
    max_lexer_states: int = 250_000
    """Lexer (DFA) states built lazily while matching."""
    step_lexer_fuel: int = 200_000
    """Lexer work for one token mask."""
    initial_lexer_fuel: int = 1_000_000
    """Lexer work allowed while building the grammar."""
    step_max_items: int = 50_000
    """Earley items one token may create."""
    max_schema_bytes: int = 256 * 1024
    """A JSON schema larger than this is refused outright."""

    def parser_limits(self) -> llguidance.LLParserLimits:
        return llguidance.LLParserLimits(
            max_grammar_size=self.max_grammar_size,
            max_lexer_states=self.max_lexer_states,
            step_lexer_fuel=self.step_lexer_fuel,
            initial_lexer_fuel=self.initial_lexer_fuel,
            step_max_items=self.step_max_items,
        )


@dataclass(frozen=True, slots=True)
class CompiledGrammar:
    """A validated llguidance grammar for one schema."""

    grammar: str
    schema: dict[str, Any]

    @property
    def size(self) -> int:
        return len(self.grammar)


class GrammarCompiler:
    """Compiles schemas for one tokenizer; compiled grammars are kept in an LRU bounded by the
    total size of their grammar text (``cache_bytes``). ``separators`` are JSON's item and key
    separators in the output (``flexible_whitespace``: any JSON whitespace instead, for mirrors
    of output another engine writes). Thread-safe."""

    def __init__(
        self,
        tokenizer: llguidance.LLTokenizer | None,
        *,
        limits: GrammarLimits | None = None,
        cache_bytes: int = 32 * 1024 * 1024,
        separators: tuple[str, str] = (", ", ": "),
        flexible_whitespace: bool = False,
    ) -> None:
        self.tokenizer = tokenizer
        self.options = {
            **_JSON_OPTIONS,
            "item_separator": separators[0],
            "key_separator": separators[1],
            "whitespace_flexible": flexible_whitespace,
        }
        self.limits = limits or GrammarLimits()
        self.cache_bytes = cache_bytes
        self._cache: OrderedDict[str, CompiledGrammar] = OrderedDict()
        self._cached_bytes = 0
        self._lock = threading.Lock()
        self.compiled = 0
        """Schemas compiled (cache misses), since start."""

    def compile(
        self, schema: dict[str, Any] | None, *, param: str, lazy: bool = False
    ) -> CompiledGrammar:
        """The grammar of ``schema`` (``None``: any JSON object). With ``lazy`` the value may
        follow a little leading whitespace (an ``auto`` tool call opening with `` {``). Raises a
        400 naming ``param`` (and the keyword, when one is unsupported)."""
        schema = ANY_JSON_OBJECT if schema is None else schema
        if not isinstance(schema, dict):
            raise InvalidRequestError("a JSON schema must be an object", param=param)
        try:
            key = json.dumps(schema, sort_keys=True, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidRequestError(f"the schema is not valid JSON: {exc}", param=param) from exc
        key = ("lazy:" if lazy else "") + key
        if len(key.encode()) > self.limits.max_schema_bytes:
            raise InvalidRequestError(
                f"the schema is larger than {self.limits.max_schema_bytes} bytes", param=param
            )
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        prepared = close_objects(_formats(schema, param))
        compiled = CompiledGrammar(self._build(prepared, param, lazy), schema)
        self._store(key, compiled)
        return compiled

    def _build(self, schema: dict[str, Any], param: str, lazy: bool) -> str:
        if lazy:
            options = {**self.options, **schema.get("x-guidance", {})}
            inline = json.dumps({**schema, "x-guidance": options}, ensure_ascii=False)
            lark = f"start: LEAD value\nLEAD: /[ \\t\\n]{{0,8}}/\nvalue: %json {inline}\n"
            grammar = llguidance.LLMatcher.grammar_from_lark(lark)
        else:
            grammar = llguidance.LLMatcher.grammar_from_json_schema(schema, defaults=self.options)
        is_error, messages = llguidance.LLMatcher.validate_grammar_with_warnings(
            grammar, self.tokenizer, limits=self.limits.parser_limits()
        )
        if is_error:
            raise _schema_error(messages[0] if messages else "invalid schema", param)
        self.compiled += 1
        return grammar

    def _store(self, key: str, compiled: CompiledGrammar) -> None:
        size = compiled.size + len(key)
        if size > self.cache_bytes:
            return
        with self._lock:
            if key in self._cache:
                return
            self._cache[key] = compiled
            self._cached_bytes += size
            while self._cached_bytes > self.cache_bytes:
                old_key, old = self._cache.popitem(last=False)
                self._cached_bytes -= old.size + len(old_key)

    @property
    def cached_bytes(self) -> int:
        return self._cached_bytes


_FORMAT_ALIASES: dict[str, dict[str, Any]] = {
    # pydantic's IPvAnyAddress
    "ipvanyaddress": {"anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]},
}
_ANNOTATION_FORMATS = frozenset({"password", "binary", "textarea"})
"""Formats that describe how to show a value (pydantic's SecretStr, bytes), not what it is:
no validator checks them, so they constrain nothing."""
_ENFORCED_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uri", "uuid"}
)


_YEAR_1_OR_LATER = "^(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])"
"""RFC 3339 allows year 0000, but Python's ``datetime`` (so pydantic and jsonschema) cannot
hold it: dates start at year 1 for generation."""


def _formats(node: Any, param: str) -> Any:
    """``format`` as llguidance enforces it: aliases expanded, display-only formats dropped,
    anything else it cannot enforce refused (a 400 naming it, never a silently looser
    value)."""
    if isinstance(node, list):
        return [_formats(item, param) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    if node.get("format") in ("date", "date-time") and "pattern" not in node:
        out["pattern"] = _YEAR_1_OR_LATER
    for key, value in node.items():
        if key in ("enum", "const", "default", "examples"):
            out[key] = value
        elif key == "format" and isinstance(value, str) and value not in _ENFORCED_FORMATS:
            if value in _ANNOTATION_FORMATS:
                continue
            if value not in _FORMAT_ALIASES:
                raise UnsupportedFeatureError(
                    f"JSON Schema format {value!r} is not supported for constrained output "
                    f"(supported: {', '.join(sorted(_ENFORCED_FORMATS))})",
                    param=param,
                )
            out.update(_FORMAT_ALIASES[value])
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: _formats(sub, param) for name, sub in value.items()}
        else:
            out[key] = _formats(value, param)
    return out


def close_objects(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``schema`` where objects that list ``properties`` but say nothing about
    others get ``additionalProperties: false``. Every output stays valid against the original
    schema; the model just cannot wander into keys nobody asked for (a small model otherwise
    copies keys such as ``"type"`` from the schema it was shown). Schemas using ``allOf`` (whose
    branches must stay open to merge) or ``patternProperties`` are left as they are."""
    text = json.dumps(schema)
    if '"allOf"' in text or '"patternProperties"' in text or '"unevaluatedProperties"' in text:
        return schema
    return _close(schema)


def _close(node: Any) -> Any:
    if isinstance(node, list):
        return [_close(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in ("enum", "const", "default", "examples"):
            out[key] = value
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: _close(sub) for name, sub in value.items()}
        else:
            out[key] = _close(value)
    if isinstance(node.get("properties"), dict) and "additionalProperties" not in node:
        out["additionalProperties"] = False
    return out


def _schema_error(message: str, param: str) -> InvalidRequestError:
    unimplemented = _UNIMPLEMENTED.search(message)
    if unimplemented:
        keys = [k.strip().strip('"') for k in unimplemented.group(1).split(",") if k.strip()]
        return UnsupportedFeatureError(
            f"JSON Schema keyword(s) not supported for constrained output: {', '.join(keys)}",
            param=param,
        )
    first = message.strip().splitlines()[0] if message.strip() else "invalid schema"
    if "limit" in message.lower() or "too" in message.lower():
        return InvalidRequestError(
            f"the schema is too complex to enforce: {first}", param=param, code="schema_too_complex"
        )
    return InvalidRequestError(f"invalid JSON schema: {first}", param=param)
