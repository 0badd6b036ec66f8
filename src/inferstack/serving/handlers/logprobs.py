"""Engine log probabilities → OpenAI's chat and completion shapes.

A token that holds only part of a UTF-8 character (a byte-fallback token, or one half of an
emoji) has no text of its own. OpenAI spells such a token by its bytes: ``\\xf0\\x9f\\x92`` in
chat logprobs, whose ``bytes`` field carries the bytes themselves, and ``bytes:\\xe9\\x80`` in
the ``tokens`` and ``top_logprobs`` keys of legacy completions, where ``text_offset`` puts a
token that continues a character at the offset of that character. These do the same, so no
byte is lost to U+FFFD."""

from __future__ import annotations

import codecs

from inferstack.engines.base import TokenLogprob
from inferstack.protocol import ChatTokenLogprob, ChoiceLogprobs, CompletionLogprobs, TopLogprob

__all__ = [
    "TextOffsets",
    "chat_logprobs",
    "chat_token",
    "completion_logprobs",
    "completion_token",
]


def _escaped(piece: bytes) -> str:
    """Printable ASCII as itself, every other byte (and the backslash) as ``\\xNN``."""
    return "".join(chr(b) if 0x20 <= b < 0x7F and b != 0x5C else f"\\x{b:02x}" for b in piece)


def chat_token(piece: bytes) -> str:
    """A chat logprob's ``token``: the piece's text, or its escaped bytes when it is not
    valid UTF-8 on its own."""
    try:
        return piece.decode("utf-8")
    except UnicodeDecodeError:
        return _escaped(piece)


def completion_token(piece: bytes) -> str:
    """A legacy completion logprob's token: the piece's text, or ``bytes:`` and its escaped
    bytes when it is not valid UTF-8 on its own."""
    try:
        return piece.decode("utf-8")
    except UnicodeDecodeError:
        return "bytes:" + _escaped(piece)


class TextOffsets:
    """Where each token starts in a choice's text, fed the tokens in order: the characters
    the tokens before it completed, so a token that continues a character starts where the
    character does (decoded like the engines decode text, invalid bytes as U+FFFD)."""

    def __init__(self, start: int = 0) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._offset = start

    def feed(self, piece: bytes) -> int:
        """The offset of the token with these bytes, the next one in the text."""
        at = self._offset
        self._offset += len(self._decoder.decode(piece))
        return at


def chat_logprobs(entries: list[TokenLogprob]) -> ChoiceLogprobs:
    """``{"content": [...], "refusal": null}`` for these output tokens."""
    return ChoiceLogprobs(
        content=[
            ChatTokenLogprob(
                token=chat_token(e.piece),
                logprob=e.logprob,
                bytes=list(e.piece),
                top_logprobs=[
                    TopLogprob(token=chat_token(piece), logprob=lp, bytes=list(piece))
                    for _, piece, lp in e.top
                ],
            )
            for e in entries
        ]
    )


def completion_logprobs(
    entries: list[TokenLogprob], offsets: TextOffsets | None = None
) -> CompletionLogprobs:
    """The parallel lists of a text completion. ``offsets`` has been fed the choice's tokens
    before these (a stream's earlier chunks); by default these are the first."""
    offsets = offsets or TextOffsets()
    return CompletionLogprobs(
        tokens=[completion_token(e.piece) for e in entries],
        token_logprobs=[e.logprob for e in entries],
        top_logprobs=[{completion_token(piece): lp for _, piece, lp in e.top} for e in entries],
        text_offset=[offsets.feed(e.piece) for e in entries],
    )
