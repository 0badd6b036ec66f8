"""PII guardrail: finds e-mail addresses, phone, card and US social-security numbers in text,
then blocks the request or masks them. Off by default; on by config (``guardrail.enabled``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from inferstack.errors import InvalidRequestError
from inferstack.gateway.settings import GuardrailSettings

__all__ = ["EMAIL_MAX", "ENTITIES", "NUMBER_MAX", "PiiGuardrail", "email_spans", "luhn_valid"]


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


# Every pattern is bounded (no unbounded repetition) and, but for e-mail, starts behind a
# look-behind that fails at once inside a run of its own characters: each start position costs a
# bounded amount of work, so a scan is linear in the text. E-mail is found from its "@" (a
# literal the regex engine skips to) and the local part is read leftwards, at most 64 characters.
# NOTE: order matters: cards and SSNs are matched before phone numbers, which look alike.
_EMAIL_LOCAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
_EMAIL_DOMAIN = re.compile(r"@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}")
_PATTERNS: dict[str, re.Pattern[str]] = {
    "card": re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])"),
    "ssn": re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])"),
    "phone": re.compile(
        r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{3}\)|\d{3})[ .-]?\d{3}[ .-]?\d{4}(?![\w-])"
    ),
}
ENTITIES = ("email", "card", "ssn", "phone")
# The longest text each kind can match: a streamed tail longer than this cannot still grow
# into a match, so the stream guard never holds back more.
EMAIL_MAX = 64 + 1 + 8 * 64 + 1 + 24
NUMBER_MAX = 40


def email_spans(text: str) -> list[tuple[int, int]]:
    """Where e-mail addresses are in ``text``, in linear time."""
    spans: list[tuple[int, int]] = []
    if "@" not in text:
        return spans
    floor = 0  # never reach back into the previous address
    for match in _EMAIL_DOMAIN.finditer(text):
        at = match.start()
        start = at
        while start > max(floor, at - 64) and text[start - 1] in _EMAIL_LOCAL:
            start -= 1
        if start < at:
            spans.append((start, match.end()))
            floor = match.end()
    return spans


def _is_card(match: re.Match[str]) -> bool:
    return luhn_valid(re.sub(r"\D", "", match.group(0)))


_VALIDATORS: dict[str, Callable[[re.Match[str]], bool]] = {"card": _is_card}


class PiiGuardrail:
    """Scans the text of requests and responses according to :class:`GuardrailSettings`."""

    def __init__(self, settings: GuardrailSettings) -> None:
        self.settings = settings
        self._email = "email" in settings.entities
        self._patterns = [
            (name, _PATTERNS[name]) for name in _PATTERNS if name in settings.entities
        ]

    def redact(self, text: str) -> tuple[str, set[str]]:
        """``text`` with PII replaced by ``[REDACTED_<KIND>]``, and the kinds found."""
        found: set[str] = set()
        if self._email:
            spans = email_spans(text)
            if spans:
                found.add("email")
                pieces, last = [], 0
                for begin, end in spans:
                    pieces += [text[last:begin], "[REDACTED_EMAIL]"]
                    last = end
                text = "".join([*pieces, text[last:]])
        for name, pattern in self._patterns:
            valid = _VALIDATORS.get(name)

            def swap(match: re.Match[str], name: str = name, valid: Any = valid) -> str:
                if valid is not None and not valid(match):
                    return match.group(0)
                found.add(name)
                return f"[REDACTED_{name.upper()}]"

            text = pattern.sub(swap, text)
        return text, found

    def clean(self, text: str, where: str) -> str:
        """``text`` redacted, or a refusal in block mode when it holds PII."""
        clean, found = self.redact(text)
        if found and self.settings.mode == "block":
            raise InvalidRequestError(
                f"the {where} contains personal data ({', '.join(sorted(found))}); "
                "the gateway's PII guardrail refused it",
                code="pii_detected",
            )
        return clean

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


# Identifiers and enumerations, never free text: not scanned.
_NOT_TEXT = frozenset(
    {"model", "role", "type", "id", "tool_call_id", "object", "finish_reason", "encoding_format"}
)


def _strings(node: Any) -> Iterable[tuple[Any, Any]]:
    """Every (container, key) holding a string under ``node``, tool arguments, tool names and
    descriptions, schemas and stop sequences included; iterative, so depth costs no stack."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key in _NOT_TEXT or _inline_image(key, value):
                    continue
                if isinstance(value, str):
                    yield item, key
                elif isinstance(value, dict | list):
                    stack.append(value)
        elif isinstance(item, list):
            for index, value in enumerate(item):
                if isinstance(value, str):
                    yield item, index
                elif isinstance(value, dict | list):
                    stack.append(value)


def _inline_image(key: str, value: Any) -> bool:
    """An ``image_url`` part's ``data:`` URL: pixels, not text. Its base64 can hold a digit run
    that passes the card check, and redacting it would corrupt the image; an http(s) image URL
    is still scanned."""
    return (
        key == "image_url"
        and isinstance(value, dict)
        and isinstance(value.get("url"), str)
        and value["url"].startswith("data:")
    )


def _request_texts(body: dict[str, Any]) -> Iterable[tuple[Any, Any]]:
    return _strings(body)


def _response_texts(body: dict[str, Any]) -> Iterable[tuple[Any, Any]]:
    return _strings(body.get("choices") or [])
