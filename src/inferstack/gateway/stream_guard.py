"""The output guardrail across the events of a stream.

Tokens split an address anywhere (``jane`` ``.d`` ``oe@`` ``example`` ``.com``), so scanning each
event alone lets PII through, and in block mode the first pieces would already be sent. The guard
holds back, per choice and text field, the tail of the text that could still grow into a match
(the trailing run of e-mail characters, or of digits and number punctuation, whichever is longer,
and never more than the longest possible match); everything before it is final, scanned and
released. The held tail is released with the event that carries the choice's ``finish_reason``,
or in one last event before ``[DONE]``.
"""

from __future__ import annotations

from typing import Any

from inferstack.gateway.guardrail import EMAIL_MAX, NUMBER_MAX, PiiGuardrail

__all__ = ["StreamGuard"]

_EMAIL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-@")
_NUMBER_CHARS = frozenset("0123456789 ()+.-")
_DELTA_FIELDS = ("content", "reasoning_content", "refusal")

Key = tuple[Any, ...]  # (choice index, field) or (choice index, "tool", tool index, field)


def _tail(text: str, chars: frozenset[str], limit: int) -> int:
    n = 0
    while n < len(text) and n < limit and text[-1 - n] in chars:
        n += 1
    return n


def held_tail(text: str) -> int:
    """How many characters at the end of ``text`` could still be the start of PII."""
    return max(_tail(text, _EMAIL_CHARS, EMAIL_MAX), _tail(text, _NUMBER_CHARS, NUMBER_MAX))


def _fields(choice: dict[str, Any], index: Any) -> list[tuple[dict[str, Any], str, Key]]:
    found: list[tuple[dict[str, Any], str, Key]] = []
    if isinstance(choice.get("text"), str):  # /completions
        found.append((choice, "text", (index, "text")))
    delta = choice.get("delta")
    if not isinstance(delta, dict):
        return found
    found += [(delta, f, (index, f)) for f in _DELTA_FIELDS if isinstance(delta.get(f), str)]
    for call in delta.get("tool_calls") or []:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            for f in ("name", "arguments"):
                if isinstance(function.get(f), str):
                    found.append((function, f, (index, "tool", call.get("index", 0), f)))
    return found


def _put(choice: dict[str, Any], key: Key, text: str) -> None:
    """Append released ``text`` to its field in ``choice`` (made if missing)."""
    if key[1] == "text":
        choice["text"] = (choice.get("text") or "") + text
        return
    delta = choice.setdefault("delta", {})
    if key[1] != "tool":
        delta[key[1]] = (delta.get(key[1]) or "") + text
        return
    calls = delta.setdefault("tool_calls", [])
    call = next((c for c in calls if c.get("index", 0) == key[2]), None)
    if call is None:
        call = {"index": key[2], "function": {}}
        calls.append(call)
    function = call.setdefault("function", {})
    function[key[3]] = (function.get(key[3]) or "") + text


class StreamGuard:
    """Scans one stream's events with a hold-back window; see the module docstring."""

    def __init__(self, guardrail: PiiGuardrail) -> None:
        self._guardrail = guardrail
        self._held: dict[Key, str] = {}

    def event(self, data: dict[str, Any]) -> bool:
        """Scan and rewrite one event in place; True when it changed."""
        changed = False
        for choice in data.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            index = choice.get("index", 0)
            for holder, field, key in _fields(choice, index):
                released = self._feed(key, holder[field])
                if released != holder[field]:
                    holder[field] = released
                    changed = True
            if choice.get("finish_reason") is not None:
                changed = self._flush_into(choice, index) or changed
        return changed

    def _feed(self, key: Key, text: str) -> str:
        pending = self._held.pop(key, "") + text
        cut = len(pending) - held_tail(pending)
        if cut < len(pending):
            self._held[key] = pending[cut:]
        return self._guardrail.clean(pending[:cut], "response") if cut else ""

    def _flush_into(self, choice: dict[str, Any], index: Any) -> bool:
        keys = [key for key in self._held if key[0] == index]
        for key in keys:
            _put(choice, key, self._guardrail.clean(self._held.pop(key), "response"))
        return bool(keys)

    def rest(self) -> dict[str, Any] | None:
        """A last chunk with whatever is still held (a stream that ended without a finish
        reason), or None."""
        if not self._held:
            return None
        choices: dict[Any, dict[str, Any]] = {}
        for key in list(self._held):
            choice = choices.setdefault(key[0], {"index": key[0]})
            _put(choice, key, self._guardrail.clean(self._held.pop(key), "response"))
        return {"object": "chat.completion.chunk", "choices": list(choices.values())}
