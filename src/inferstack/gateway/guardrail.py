"""PII guardrail: finds e-mail addresses, phone, card and US social-security numbers in text,
then blocks the request or masks them. Off by default; on by config (``guardrail.enabled``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from inferstack.errors import InvalidRequestError
from inferstack.gateway.settings import GuardrailSettings

__all__ = ["PiiGuardrail", "luhn_valid"]


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


# NOTE: order matters: cards and SSNs are matched before phone numbers, which look alike.
_PATTERNS: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
    "card": re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])"),
    "ssn": re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])"),
    "phone": re.compile(
        r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{3}\)|\d{3})[ .-]?\d{3}[ .-]?\d{4}(?![\w-])"
    ),
}


def _is_card(match: re.Match[str]) -> bool:
    return luhn_valid(re.sub(r"\D", "", match.group(0)))


_VALIDATORS: dict[str, Callable[[re.Match[str]], bool]] = {"card": _is_card}


class PiiGuardrail:
    """Scans the text of requests and responses according to :class:`GuardrailSettings`."""

    def __init__(self, settings: GuardrailSettings) -> None:
        self.settings = settings
        self._patterns = [
            (name, _PATTERNS[name]) for name in _PATTERNS if name in settings.entities
        ]

    def redact(self, text: str) -> tuple[str, set[str]]:
        """``text`` with PII replaced by ``[REDACTED_<KIND>]``, and the kinds found."""
        found: set[str] = set()
        for name, pattern in self._patterns:
            valid = _VALIDATORS.get(name)

            def swap(match: re.Match[str], name: str = name, valid: Any = valid) -> str:
                if valid is not None and not valid(match):
                    return match.group(0)
                found.add(name)
                return f"[REDACTED_{name.upper()}]"

            text = pattern.sub(swap, text)
        return text, found

    def _apply(self, holders: Iterable[tuple[Any, Any]], where: str) -> bool:
        """Scan ``container[key]`` strings; block or redact in place. True if anything changed."""
        changed = False
        for container, key in holders:
            value = container[key]
            if not isinstance(value, str):
                continue
            clean, found = self.redact(value)
            if not found:
                continue
            if self.settings.mode == "block":
                raise InvalidRequestError(
                    f"the {where} contains personal data ({', '.join(sorted(found))}); "
                    "the gateway's PII guardrail refused it",
                    code="pii_detected",
                )
            container[key] = clean
            changed = True
        return changed

    def check_request(self, body: dict[str, Any]) -> bool:
        """Apply the input guardrail to a request body; True when the body was redacted."""
        if not (self.settings.enabled and self.settings.on_input):
            return False
        return self._apply(_request_texts(body), "request")

    def check_response(self, body: dict[str, Any]) -> bool:
        """Apply the output guardrail to a completion or stream chunk; True when redacted."""
        if not (self.settings.enabled and self.settings.on_output):
            return False
        return self._apply(_response_texts(body), "response")


def _request_texts(body: dict[str, Any]) -> Iterable[tuple[Any, Any]]:
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, str):
            yield message, "content"
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and part.get("type") == "text":
                    yield part, "text"
    for field in ("prompt", "input"):
        value = body.get(field)
        if isinstance(value, str):
            yield body, field
        elif isinstance(value, list):
            yield from ((value, i) for i, item in enumerate(value) if isinstance(item, str))


def _response_texts(body: dict[str, Any]) -> Iterable[tuple[Any, Any]]:
    for choice in body.get("choices") or []:
        if not isinstance(choice, dict):
            continue
        if "text" in choice:
            yield choice, "text"
        for part in ("message", "delta"):
            if isinstance(choice.get(part), dict) and "content" in choice[part]:
                yield choice[part], "content"
