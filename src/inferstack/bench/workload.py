"""Workloads: which prompts are sent, to which endpoint, with which sampling parameters.

Prompts come from a file (one per line; a literal ``\\n`` inside a line is a newline), the
default set shipped with the package (``prompts/default.txt``), or a synthetic generator with a
controlled input length. Every request streams and asks for the usage chunk.
"""

from __future__ import annotations

import random
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

__all__ = [
    "Endpoint",
    "Workload",
    "default_prompts",
    "load_prompts",
    "synthetic_prompts",
]

# Short, common English words: with a leading space each is one token in the usual BPE and
# SentencePiece vocabularies, so N words make a prompt of about N tokens. The report shows
# the server's real prompt token count next to the requested one.
_WORDS = (  # noqa: SIM905 - one word list reads better than a hundred quoted items
    "time year people way day man thing woman life child world school state family student "
    "group country problem hand part place case week company system program question work "
    "government number night point home water room mother area money story fact month lot "
    "right study book eye job word business issue side kind head house service friend "
    "father power hour game line end member law car city name team minute idea kid body "
    "back parent face others level office door health person art war history party result "
    "change morning reason research girl guy moment air teacher force education"
).split()


class Endpoint(StrEnum):
    """The OpenAI endpoint a workload calls."""

    CHAT = "chat"
    COMPLETIONS = "completions"

    @property
    def path(self) -> str:
        return "/chat/completions" if self is Endpoint.CHAT else "/completions"


def _read_prompt_lines(text: str) -> list[str]:
    lines = [line.strip() for line in text.splitlines()]
    return [line.replace("\\n", "\n") for line in lines if line and not line.startswith("#")]


def load_prompts(path: str | Path) -> list[str]:
    """Prompts from a file, one per line; blank lines and ``#`` comments are skipped."""
    prompts = _read_prompt_lines(Path(path).read_text(encoding="utf-8"))
    if not prompts:
        raise ValueError(f"{path}: no prompts (one per line expected)")
    return prompts


def default_prompts() -> list[str]:
    """The prompt set shipped with inferstack (short ``Q: …\\nA:`` questions)."""
    text = resources.files("inferstack.bench").joinpath("prompts/default.txt").read_text("utf-8")
    return _read_prompt_lines(text)


def synthetic_prompts(count: int, input_tokens: int, seed: int = 0) -> list[str]:
    """``count`` distinct prompts of about ``input_tokens`` tokens each.

    Words are drawn at random, so two prompts share no long prefix and a server's prefix cache
    cannot make one of them cheaper than the others.
    """
    if count < 1 or input_tokens < 1:
        raise ValueError("count and input_tokens must be positive")
    rng = random.Random(seed)
    return [" ".join(rng.choices(_WORDS, k=input_tokens)) for _ in range(count)]


class Workload(BaseModel):
    """What each request of a run carries."""

    prompts: list[str] = Field(min_length=1, description="prompts, used round-robin")
    endpoint: Endpoint = Field(default=Endpoint.CHAT, description="chat or completions")
    model: str | None = Field(
        default=None,
        description="the requests' `model` field (None: each target's first /v1/models id)",
    )
    max_tokens: int = Field(default=128, ge=1, description="`max_tokens` of every request")
    temperature: float = Field(default=0.0, ge=0.0, description="sampling temperature")
    ignore_eos: bool = Field(
        default=False,
        description="send `ignore_eos: true` (llama-server, vLLM) so every answer is full length",
    )
    input_tokens: int | None = Field(
        default=None, description="requested synthetic prompt length, for the report"
    )
    extra_body: dict[str, Any] = Field(
        default_factory=dict,
        description="further request fields, e.g. response_format or tools (they win over ours)",
    )

    def body(self, index: int, model: str | None = None) -> dict[str, Any]:
        """The JSON body of request number ``index`` (prompts are used round-robin).

        ``model`` is the target's model id, used when the workload names none.
        """
        prompt = self.prompts[index % len(self.prompts)]
        body: dict[str, Any] = {
            "model": self.model or model or "default",
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if self.endpoint is Endpoint.CHAT:
            body["messages"] = [{"role": "user", "content": prompt}]
        else:
            body["prompt"] = prompt
        if self.ignore_eos:
            body["ignore_eos"] = True
        body.update(self.extra_body)
        return body
