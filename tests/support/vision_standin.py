"""A stand-in vision model that speaks real OpenAI HTTP on 127.0.0.1, for tests of the IDP's
vision reader (no vision model can run on these machines).

A chat completion whose user message holds an ``image_url`` part gets the image's lines as the
reader's lines schema asks: the stand-in decodes the ``data:`` URL and OCRs those pixels with
tesseract, so its answer depends on the image actually sent, never on a fixed string. A request
without an image is an extraction: the schema's invoice fields are read from the document text
in the prompt with label patterns ("Invoice number: …"), so they too come from what the vision
path read. Every request body is kept, with what OpenAI's published request schema says of it.

``mode`` picks the answer: ``boxes`` (lines with boxes), ``no-boxes`` (lines with ``box: null``),
``400``/``500`` (an OpenAI error body with that status), ``slow`` (no answer until released or
10 s), ``garbage`` (a 200 whose content is not the lines schema)."""

from __future__ import annotations

import base64
import io
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image

from support.openai_spec import openai_errors

__all__ = ["VisionStandIn", "image_parts"]

# Where the extraction stand-in finds each invoice field in the document text.
_FIELDS = {
    "invoice_number": r"Invoice number:\s*(\S+)",
    "invoice_date": r"Date:\s*(\S+)",
    "vendor_name": r"Vendor:\s*(.+)",
    "total_amount": r"Total:\s*(\S+)",
    "currency": r"Total:\s*\S+\s+(\S+)",
}


def image_parts(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every image_url content part of a chat request, in order."""
    return [
        part
        for message in body.get("messages", [])
        if isinstance(message.get("content"), list)
        for part in message["content"]
        if part.get("type") == "image_url"
    ]


def ocr_lines(image: Image.Image, boxes: bool) -> list[dict[str, Any]]:
    """tesseract's lines of ``image``, top to bottom, each with its box in its pixels."""
    import pytesseract

    data = pytesseract.image_to_data(image, output_type=pytesseract.Output.DICT)
    lines: dict[tuple[int, int, int], list[int]] = {}
    for i, text in enumerate(data["text"]):
        if str(text).strip() and float(data["conf"][i]) >= 0:
            key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
            lines.setdefault(key, []).append(i)
    out = []
    for idx in sorted(lines.values(), key=lambda ix: min(data["top"][i] for i in ix)):
        left = min(data["left"][i] for i in idx)
        top = min(data["top"][i] for i in idx)
        right = max(data["left"][i] + data["width"][i] for i in idx)
        bottom = max(data["top"][i] + data["height"][i] for i in idx)
        box = [left, top, right - left, bottom - top] if boxes else None
        out.append({"text": " ".join(str(data["text"][i]).strip() for i in idx), "box": box})
    return out


class VisionStandIn:
    """Start with :meth:`start` (returns the ``/v1`` base URL), stop with :meth:`stop`."""

    def __init__(self, mode: str = "boxes", model: str = "standin-vision") -> None:
        self.mode = mode
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.spec_errors: list[list[str]] = []
        self.release = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> str:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/v1/models":
                    card = {"id": standin.model, "object": "model", "created": 0, "owned_by": "t"}
                    self._send(200, {"object": "list", "data": [card]})
                else:
                    self._send(404, _error("not found", "not_found_error"))

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                standin.requests.append(body)
                standin.spec_errors.append(openai_errors(body, "CreateChatCompletionRequest"))
                status, answer = standin.answer(body)
                self._send(status, answer)

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self.base_url

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        parts = image_parts(body)
        if parts and self.mode == "400":
            return 400, _error(
                "this model accepts text only", "invalid_request_error", "messages.1.content.1"
            )
        if parts and self.mode == "500":
            return 500, _error("the model crashed", "server_error")
        if parts and self.mode == "slow":
            self.release.wait(10)
        if parts and self.mode == "garbage":
            return 200, _completion(self.model, "here are the lines: INVOICE")
        if parts:
            image = _decode(parts[0]["image_url"]["url"])
            lines = ocr_lines(image, boxes=self.mode != "no-boxes")
            return 200, _completion(self.model, json.dumps({"lines": lines}))
        return 200, _completion(self.model, json.dumps(_extract(body)))


def _decode(url: str) -> Image.Image:
    header, _, data = url.partition(",")
    assert re.fullmatch(r"data:image/(png|jpeg);base64", header), header
    return Image.open(io.BytesIO(base64.b64decode(data, validate=True))).convert("RGB")


def _extract(body: dict[str, Any]) -> dict[str, str]:
    """The schema's fields, each read from the prompt's document text (empty when absent)."""
    schema = body["response_format"]["json_schema"]["schema"]
    text = "\n".join(
        m["content"]
        for m in body["messages"]
        if m["role"] == "user" and isinstance(m["content"], str)
    )
    values = {}
    for name in schema["properties"]:
        match = re.search(_FIELDS.get(name, r"(?!)"), text)
        values[name] = match.group(1).strip() if match else ""
    return values


def _completion(model: str, content: str) -> dict[str, Any]:
    message = {"role": "assistant", "content": content, "refusal": None}
    return {
        "id": "chatcmpl-standin",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _error(message: str, kind: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": None}}
