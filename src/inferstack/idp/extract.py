"""Extraction: the chat model fills the schema from the document's text, with
``response_format: json_schema`` so the server's grammar keeps the output valid, and
``logprobs: true`` so per-field confidence can use the model's token probabilities when the
server returns them (they are used when present, never required)."""

from __future__ import annotations

import codecs
import json
import logging
from dataclasses import dataclass
from typing import Any

import httpx

from inferstack.errors import InvalidRequestError, UpstreamError
from inferstack.idp.settings import IdpSettings

__all__ = [
    "Extraction",
    "LogprobsUnsupported",
    "TokenLogprob",
    "build_messages",
    "extract",
    "open_client",
]

TokenLogprob = tuple[str, float]
# The shortest cut of a document's text the extraction retries with when the prompt is too long.
MIN_PROMPT_CHARS = 500
log = logging.getLogger(__name__)


class LogprobsUnsupported(Exception):
    """The server refused ``logprobs`` on this request (e.g. with constrained output)."""


@dataclass
class Extraction:
    """What the model returned: the values, the raw JSON text and, if any, its token logprobs."""

    values: dict[str, Any]
    content: str
    logprobs: list[TokenLogprob] | None
    model: str


def build_messages(text: str, schema_name: str, schema: dict[str, Any]) -> list[dict[str, str]]:
    fields = "\n".join(
        f"- {name}: {spec.get('description', spec.get('type', ''))}"
        for name, spec in schema["properties"].items()
    )
    return [
        {
            "role": "system",
            "content": "You copy fields from a document into JSON. Copy values exactly as "
            "they are written in the document.",
        },
        {
            "role": "user",
            "content": f"Document ({schema_name}):\n{text}\n\nFields:\n{fields}\n\n"
            "Answer with the JSON object.",
        },
    ]


def _request(
    settings: IdpSettings,
    messages: list[dict[str, str]],
    name: str,
    schema: dict[str, Any],
    logprobs: bool,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": settings.chat_model,
        "messages": messages,
        "temperature": 0,
        "seed": 0,
        "max_tokens": settings.max_tokens,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": _schema_name(name), "schema": schema, "strict": True},
        },
    }
    if logprobs:
        body["logprobs"] = True
    return body


def _schema_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "_-" else "_" for c in name)[:64]
    return cleaned or "document"


def _context_exceeded(response: httpx.Response) -> bool:
    try:
        error = response.json().get("error") or {}
    except ValueError:
        return False
    return response.status_code == 400 and error.get("code") == "context_length_exceeded"


def _refused_logprobs(response: httpx.Response) -> bool:
    try:
        error = response.json().get("error") or {}
    except ValueError:
        return False
    return response.status_code == 400 and error.get("param") == "logprobs"


def extract(
    client: httpx.Client,
    settings: IdpSettings,
    text: str,
    name: str,
    schema: dict[str, Any],
    *,
    logprobs: bool = True,
    headers: dict[str, str] | None = None,
) -> Extraction:
    """Ask the chat model for the schema's fields in ``text`` (cut to ``max_prompt_chars``, and
    halved again while the server says the prompt is over its context).

    Raises :class:`LogprobsUnsupported` when ``logprobs`` was asked for and the server refused
    exactly that parameter, so the caller can ask again without it. ``headers`` go with the
    request (the trace context)."""
    limit = settings.max_prompt_chars
    while True:
        messages = build_messages(text[:limit], name, schema)
        request = _request(settings, messages, name, schema, logprobs)
        try:
            response = client.post("/chat/completions", json=request, headers=headers)
        except httpx.HTTPError as exc:
            raise UpstreamError(
                f"chat model at {settings.chat_base_url} unreachable: {exc}"
            ) from exc
        # NOTE: a long document can outgrow the model's context however the text is cut:
        # halve the text (down to MIN_PROMPT_CHARS) rather than fail the document
        if not _context_exceeded(response) or limit <= MIN_PROMPT_CHARS or len(text) <= limit:
            break
        limit = max(MIN_PROMPT_CHARS, limit // 2)
        log.warning("prompt over the model's context: the document's text cut to %d chars", limit)
    if logprobs and _refused_logprobs(response):
        raise LogprobsUnsupported(response.text[:500])
    if response.status_code >= 400:
        raise UpstreamError(f"chat model answered {response.status_code}: {response.text[:500]}")
    body = response.json()
    choice = body["choices"][0]
    content = choice["message"].get("content") or ""
    try:
        values = json.loads(content)
    except ValueError as exc:
        raise UpstreamError(f"chat model returned no JSON object: {content[:200]!r}") from exc
    if not isinstance(values, dict):
        raise UpstreamError(f"chat model returned {type(values).__name__}, not an object")
    _validate(values, schema)
    return Extraction(
        values, content, _logprobs(choice), str(body.get("model", settings.chat_model))
    )


def _validate(values: dict[str, Any], schema: dict[str, Any]) -> None:
    """The grammar should make this impossible; a server that ignores ``response_format`` is
    reported, never passed on silently."""
    from jsonschema import Draft202012Validator

    errors = sorted(Draft202012Validator(schema).iter_errors(values), key=lambda e: e.path)
    if errors:
        raise UpstreamError(
            f"the chat model's output does not satisfy the schema: {errors[0].message} "
            "(does the server enforce response_format json_schema?)"
        )


def _logprobs(choice: dict[str, Any]) -> list[TokenLogprob] | None:
    """Each token's share of the answer's text with its logprob. The share comes from the
    token's ``bytes`` where given: a token holding part of a character is spelled by its
    bytes (``\\xe6\\x97``), and its share is nothing until the character is complete."""
    content = (choice.get("logprobs") or {}).get("content")
    if not content:
        return None
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    return [
        (
            str(t["token"]) if t.get("bytes") is None else decoder.decode(bytes(t["bytes"])),
            float(t["logprob"]),
        )
        for t in content
    ]


def open_client(settings: IdpSettings) -> httpx.Client:
    """An HTTP client for the chat model (Bearer key when configured, settings' timeout)."""
    headers = {}
    if settings.api_key is not None:
        headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
    if not settings.chat_base_url.startswith(("http://", "https://")):
        raise InvalidRequestError("chat_base_url must be an http(s) URL", param="chat_base_url")
    return httpx.Client(
        base_url=settings.chat_base_url.rstrip("/"),
        headers=headers,
        timeout=settings.request_timeout,
    )
