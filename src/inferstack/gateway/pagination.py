"""Keyset pagination: opaque cursors naming the last row of a page, never an OFFSET."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from inferstack.errors import InvalidRequestError

__all__ = [
    "Page",
    "decode_cursor",
    "decode_int_cursor",
    "decode_time_cursor",
    "encode_cursor",
]


@dataclass
class Page:
    data: list[dict[str, Any]]
    next_cursor: str | None

    def to_json(self) -> dict[str, Any]:
        return {"data": self.data, "next_cursor": self.next_cursor}


def encode_cursor(*values: Any) -> str:
    raw = json.dumps(list(values), default=str, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    """The values of a cursor made by :func:`encode_cursor`; 400 naming ``cursor`` otherwise."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except ValueError as exc:
        raise InvalidRequestError("not a cursor this API returned", param="cursor") from exc
    if not isinstance(values, list) or not values:
        raise InvalidRequestError("not a cursor this API returned", param="cursor")
    return values


def decode_int_cursor(cursor: str) -> int:
    values = decode_cursor(cursor)
    if len(values) != 1 or not isinstance(values[0], int) or isinstance(values[0], bool):
        raise InvalidRequestError("not a cursor this API returned", param="cursor")
    return values[0]


def decode_time_cursor(cursor: str) -> tuple[datetime, Any]:
    """A ``(datetime, tiebreak)`` cursor."""
    values = decode_cursor(cursor)
    if len(values) != 2 or not isinstance(values[0], str):
        raise InvalidRequestError("not a cursor this API returned", param="cursor")
    try:
        at = datetime.fromisoformat(values[0])
    except ValueError as exc:
        raise InvalidRequestError("not a cursor this API returned", param="cursor") from exc
    return at, values[1]
