"""Generation defaults of the llama.cpp engine: the GGUF's own, or the fallback's."""

from __future__ import annotations

from typing import Any

from inferstack.engines.llamacpp.engine import FALLBACK_MAX_TOKENS, _generation_defaults


class Metadata:
    def __init__(self, **values: str) -> None:
        self.values = {f"general.sampling.{k}": v for k, v in values.items()}

    def metadata(self, key: str) -> str | None:
        return self.values.get(key)


def defaults(model: Any, fallback: bool) -> dict[str, Any]:
    return _generation_defaults(model, fallback)


def test_a_base_model_through_the_fallback_is_greedy_with_a_budget() -> None:
    assert defaults(Metadata(), fallback=True) == {
        "temperature": 0.0,
        "max_tokens": FALLBACK_MAX_TOKENS,
    }


def test_a_chat_model_keeps_its_ggufs_values_and_no_budget() -> None:
    assert defaults(Metadata(temp="0.6", top_k="20"), fallback=False) == {
        "temperature": 0.6,
        "top_k": 20,
    }
    assert defaults(Metadata(), fallback=False) == {}
