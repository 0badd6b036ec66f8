"""Engine log probabilities → OpenAI's chat and completion shapes."""

from __future__ import annotations

from inferstack.engines.base import TokenLogprob
from inferstack.protocol import ChatTokenLogprob, ChoiceLogprobs, CompletionLogprobs, TopLogprob

__all__ = ["chat_logprobs", "completion_logprobs"]


def _text(piece: bytes) -> str:
    return piece.decode("utf-8", errors="replace")


def chat_logprobs(entries: list[TokenLogprob]) -> ChoiceLogprobs:
    """``{"content": [...], "refusal": null}`` for these output tokens."""
    return ChoiceLogprobs(
        content=[
            ChatTokenLogprob(
                token=_text(e.piece),
                logprob=e.logprob,
                bytes=list(e.piece),
                top_logprobs=[
                    TopLogprob(token=_text(piece), logprob=lp, bytes=list(piece))
                    for _, piece, lp in e.top
                ],
            )
            for e in entries
        ]
    )


def completion_logprobs(entries: list[TokenLogprob], offset: int = 0) -> CompletionLogprobs:
    """The parallel lists of a text completion; ``offset`` is where the first token's text
    starts in the choice's text (after an echoed prompt, or the text streamed before)."""
    offsets = []
    for e in entries:
        offsets.append(offset)
        offset += len(_text(e.piece))
    return CompletionLogprobs(
        tokens=[_text(e.piece) for e in entries],
        token_logprobs=[e.logprob for e in entries],
        top_logprobs=[{_text(piece): lp for _, piece, lp in e.top} for e in entries],
        text_offset=offsets,
    )
