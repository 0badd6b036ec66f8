"""The OpenAI error body, and how a pydantic validation error becomes its message and ``param``.

The exception hierarchy lives in :mod:`inferstack.errors`; this module only has the wire types.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import ValidationError

from inferstack.protocol.base import ResponseModel

__all__ = ["ErrorBody", "ErrorResponse", "validation_error_param"]


class ErrorBody(ResponseModel):
    """``{message, type, param, code}``; ``param`` and ``code`` are sent as null when unset."""

    nullable_fields: ClassVar[frozenset[str]] = frozenset({"param", "code"})

    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(ResponseModel):
    error: ErrorBody


# Location parts pydantic adds for union branches, never field names: ``str``, ``list[str]``,
# ``function-after[...]``, model class names, and our own tags such as ``role=user``.
_TYPE_TAGS = frozenset({"str", "int", "float", "bool", "bytes", "none", "list", "dict"})
_MESSAGE_PREFIXES = ("Value error, ", "Assertion failed, ")


def _is_union_tag(part: str | int) -> bool:
    if isinstance(part, int):
        return False
    return "[" in part or "=" in part or part[:1].isupper() or part in _TYPE_TAGS


def _path(loc: Sequence[str | int]) -> list[str]:
    return [str(part) for part in loc if not _is_union_tag(part)]


def _message(error: Any) -> str:
    message = str(error["msg"])
    for prefix in _MESSAGE_PREFIXES:
        message = message.removeprefix(prefix)
    return message


def _rank(error: Any, path: list[str]) -> tuple[int, bool]:
    # Deeper first; at equal depth, a branch whose type matched ("too long") beats a wrong
    # type ("should be a valid string").
    return len(path), not str(error["type"]).endswith("_type")


def validation_error_param(exc: ValidationError) -> tuple[str, str | None]:
    """A human message and the OpenAI ``param`` (``messages.0.content``) for ``exc``.

    The first error decides the field. When it failed in several union branches, the branch
    that got deepest into the input wins ("part 2 misses ``url``" says more than "content
    is not a string"), then one whose type matched the input.
    """
    errors = exc.errors(include_url=False)
    if not errors:
        return str(exc), None
    first_path = _path(errors[0]["loc"])
    best, best_rank = errors[0], _rank(errors[0], first_path)
    for error in errors[1:]:
        path = _path(error["loc"])
        rank = _rank(error, path)
        if path[: len(first_path)] == first_path and rank > best_rank:
            best, best_rank = error, rank
    best_path = _path(best["loc"])
    param = ".".join(best_path) or None
    message = _message(best)
    return (f"{param}: {message}" if param else message), param
