"""Server-sent events as OpenAI streams them: ``data: {json}`` blocks ending in ``data: [DONE]``.

:func:`sse_event` frames one event; :func:`iter_sse_data` and :func:`aiter_sse_data` read the
data payloads back out of a stream's lines (``httpx.Response.iter_lines()`` / ``aiter_lines()``).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from typing import Any

from pydantic import BaseModel

__all__ = ["SSE_DONE", "SSEDecoder", "aiter_sse_data", "iter_sse_data", "sse_event"]

SSE_DONE = "data: [DONE]\n\n"
"""The last event of every OpenAI stream."""

# Not str.splitlines(): it also splits on U+2028 and friends, which JSON may hold unescaped.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def sse_event(obj: BaseModel | Mapping[str, Any]) -> str:
    """``data: <compact JSON>\\n\\n`` for a model (with its own rules for nulls) or a dict."""
    if isinstance(obj, BaseModel):
        payload = obj.model_dump_json(by_alias=True)
    else:
        payload = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return f"data: {payload}\n\n"


class SSEDecoder:
    """Incremental SSE parser fed one line at a time (line terminators optional).

    Only ``data`` fields matter: several ``data:`` lines of one event are joined with
    newlines, comments (``:``) and other fields (``event``, ``id``, ``retry``) are skipped.
    """

    def __init__(self) -> None:
        self._data: list[str] = []

    def feed(self, line: str) -> str | None:
        """Take one line; return the event's data when the line ends an event."""
        line = line.rstrip("\r\n")
        if not line:
            return self.flush()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value.removeprefix(" "))
        return None

    def feed_text(self, text: str) -> Iterator[str]:
        """Take an item that may hold several lines; yield each event it completes."""
        lines = _LINE_BREAK.split(text)
        if len(lines) > 1 and not lines[-1]:
            lines.pop()  # the item's own terminator, not a blank line
        for line in lines:
            data = self.feed(line)
            if data is not None:
                yield data

    def flush(self) -> str | None:
        """End the current event: its data, or ``None`` when it had no ``data`` line."""
        if not self._data:
            return None
        data, self._data = "\n".join(self._data), []
        return data


def iter_sse_data(lines: Iterable[str]) -> Iterator[str]:
    """The data payloads of an SSE stream, ``[DONE]`` included (callers stop on it).

    An event left unterminated at the end of the stream is still yielded.
    """
    decoder = SSEDecoder()
    for item in lines:
        yield from decoder.feed_text(item)
    tail = decoder.flush()
    if tail is not None:
        yield tail


async def aiter_sse_data(lines: AsyncIterable[str]) -> AsyncIterator[str]:
    """:func:`iter_sse_data` for an async stream of lines."""
    decoder = SSEDecoder()
    async for item in lines:
        for data in decoder.feed_text(item):
            yield data
    tail = decoder.flush()
    if tail is not None:
        yield tail
