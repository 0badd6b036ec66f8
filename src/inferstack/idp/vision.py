"""Reading a page image with a vision model over the OpenAI API: the page goes as an
``image_url`` content part (a base64 ``data:`` URL, PNG or JPEG) in a chat completion to the
same OpenAI-compatible base URL the extraction uses (the gateway), with ``response_format:
json_schema`` asking for the page's lines, each with its box in the sent image's pixels or
``null`` when the model cannot place it. The lines become a :class:`Page` of source
``"vision"``: words carry their line's box (or none) and no reader confidence, since a vision
model gives none (:mod:`inferstack.idp.score` says how a field is scored then).

A failed request (unreachable, timed out, a 4xx/5xx answer, an answer that is not the lines
schema) is an :class:`UpstreamError` naming the document, the page and the model; the page is
OCR'd instead only when the user asked for that fallback (``vision_fallback: ocr``)."""

from __future__ import annotations

import base64
import io
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import httpx
from PIL import Image

from inferstack.errors import UpstreamError
from inferstack.idp.document import Box, Line, Page, Word
from inferstack.idp.read import PageReader
from inferstack.idp.settings import IdpSettings

__all__ = ["LINES_SCHEMA", "EncodedPage", "VisionReader", "encode_page", "vision_request"]

log = logging.getLogger(__name__)

# The answer asked for: lines in reading order, each with a box or null (strict-mode valid:
# every property required, no others).
LINES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "lines": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "text": {"type": "string"},
                    "box": {
                        "anyOf": [
                            {
                                "type": "array",
                                "items": {"type": "integer"},
                                "minItems": 4,
                                "maxItems": 4,
                            },
                            {"type": "null"},
                        ]
                    },
                },
                "required": ["text", "box"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["lines"],
    "additionalProperties": False,
}
# "auto" sends PNG unless it is larger than this, then JPEG.
AUTO_PNG_MAX_BYTES = 1024 * 1024
JPEG_QUALITY = 90
SYSTEM_PROMPT = (
    "You transcribe images of document pages. Copy the text exactly as it is printed, "
    "character for character; never correct, translate, complete or summarise it."
)


@dataclass(frozen=True)
class EncodedPage:
    """A page image as sent: its data URL, its size, and sent pixels per page pixel."""

    url: str
    width: int
    height: int
    scale: float


def encode_page(image: Image.Image, max_side: int, image_format: str = "auto") -> EncodedPage:
    """``image`` scaled down to at most ``max_side`` pixels on its longest side, encoded as a
    ``data:`` URL (``png``, ``jpeg``, or ``auto``: PNG unless over 1 MiB)."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, image.convert("RGBA"))
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    scale = min(1.0, max_side / max(image.width, image.height))
    if scale < 1.0:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    data, mime = b"", ""
    if image_format in ("png", "auto"):
        data, mime = _encode(image, "PNG"), "image/png"
    if image_format == "jpeg" or (image_format == "auto" and len(data) > AUTO_PNG_MAX_BYTES):
        data, mime = _encode(image, "JPEG"), "image/jpeg"
    url = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    return EncodedPage(url, image.width, image.height, scale)


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        image.save(out, fmt, quality=JPEG_QUALITY)
    else:
        image.save(out, fmt, optimize=True)
    return out.getvalue()


def vision_request(settings: IdpSettings, page: EncodedPage) -> dict[str, Any]:
    """The chat completion body that asks ``settings.vision_model`` for ``page``'s lines."""
    ask = (
        "Transcribe every line of text on this page, top to bottom, as JSON: "
        '{"lines": [{"text": "...", "box": [left, top, width, height]}]}. '
        f"The image is {page.width}x{page.height} pixels; give each line's box in those "
        "pixels, or null when you cannot place it."
    )
    return {
        "model": settings.vision_model,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": ask},
                    {"type": "image_url", "image_url": {"url": page.url, "detail": "high"}},
                ],
            },
        ],
        "temperature": 0,
        "seed": 0,
        "max_tokens": settings.vision_max_tokens,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "page_lines", "schema": LINES_SCHEMA, "strict": True},
        },
    }


@dataclass
class VisionReader:
    """A :class:`~inferstack.idp.read.PageReader` that asks the vision model (see the module
    docstring); ``headers`` go with every request (the trace context); ``fallback`` reads a
    page the model failed on (only when the user asked for one)."""

    client: httpx.Client
    settings: IdpSettings
    headers: dict[str, str] = field(default_factory=dict)
    fallback: PageReader | None = None

    def __call__(self, image: Image.Image, number: int, document: str) -> Page:
        try:
            return self._read(image, number, document)
        except UpstreamError as exc:
            if self.fallback is None:
                raise
            log.warning("%s; OCR reads that page instead (vision_fallback: ocr)", exc.message)
            page = self.fallback(image, number, document)
            page.fallback = exc.message
            return page

    def _read(self, image: Image.Image, number: int, document: str) -> Page:
        where = f"{document} page {number}: vision model {self.settings.vision_model!r}"
        sent = encode_page(image, self.settings.vision_max_side, self.settings.vision_image_format)
        body = vision_request(self.settings, sent)
        try:
            response = self.client.post("/chat/completions", json=body, headers=self.headers)
        except httpx.TimeoutException as exc:
            raise UpstreamError(
                f"{where} did not answer within {self.settings.request_timeout:g} s "
                f"(request_timeout): {type(exc).__name__}"
            ) from exc
        except httpx.HTTPError as exc:
            raise UpstreamError(
                f"{where} at {self.settings.chat_base_url} unreachable: {exc}"
            ) from exc
        if response.status_code >= 400:
            raise UpstreamError(f"{where} answered {_describe_error(response)}")
        lines = _answer_lines(response, where)
        page = Page(number, image.width, image.height, "vision")
        page.lines = _to_lines(lines, sent, number, image.width, image.height)
        log.debug("%s page %d: %d lines from the vision model", document, number, len(lines))
        return page


def _describe_error(response: httpx.Response) -> str:
    """``"400 invalid_request_error: message (param p)"`` from an OpenAI error body, or the
    status and the start of whatever else came back."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if not isinstance(error, dict):
        return f"{response.status_code}: {response.text[:300]}"
    param = f" (param {error['param']})" if error.get("param") else ""
    kind = f" {error['type']}" if error.get("type") else ""
    return f"{response.status_code}{kind}: {error.get('message', '')}{param}"


def _answer_lines(response: httpx.Response, where: str) -> list[dict[str, Any]]:
    """The answer's lines, checked against :data:`LINES_SCHEMA`."""
    from jsonschema import Draft202012Validator

    try:
        choice = response.json()["choices"][0]
        content = choice["message"].get("content") or ""
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise UpstreamError(f"{where} answered no chat completion: {response.text[:300]}") from exc
    if choice.get("finish_reason") == "length":
        raise UpstreamError(
            f"{where} ran out of vision_max_tokens ({len(content)} characters written) before "
            "the page's lines were complete"
        )
    try:
        data = json.loads(content)
    except ValueError as exc:
        raise UpstreamError(f"{where} answered no JSON: {content[:200]!r}") from exc
    errors = list(Draft202012Validator(LINES_SCHEMA).iter_errors(data))
    if errors:
        raise UpstreamError(
            f"{where} answered JSON that is not the lines schema ({errors[0].message}); does "
            "the server enforce response_format json_schema?"
        )
    return list(data["lines"])


def _to_lines(
    answer: list[dict[str, Any]], sent: EncodedPage, number: int, width: int, height: int
) -> list[Line]:
    lines = []
    for item in answer:
        words = str(item["text"]).split()
        if not words:
            continue
        box = _page_box(item["box"], sent, width, height)
        lines.append(Line([Word(w, box, None, number) for w in words]))
    return lines


def _page_box(raw: list[int] | None, sent: EncodedPage, width: int, height: int) -> Box | None:
    """The model's box (sent-image pixels) on the page, clipped to it; None when it gave none
    or one with no area on the page."""
    if raw is None:
        return None
    left, top, w, h = (v / sent.scale for v in raw)
    right, bottom = min(width, left + w), min(height, top + h)
    left, top = max(0.0, left), max(0.0, top)
    if right - left < 1 or bottom - top < 1:
        return None
    return (round(left), round(top), round(right - left), round(bottom - top))
