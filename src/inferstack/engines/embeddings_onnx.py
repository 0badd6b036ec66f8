"""ONNX sentence-transformer backend of the embedding engine (onnxruntime + tokenizers).

The pipeline of sentence-transformers' ``Pooling(mean) + Normalize``: the model's last hidden
state averaged over the real tokens (attention mask), then L2-normalised. A model exported with
a ``sentence_embedding`` output is already pooled and is used as is.

``tokenizer.json`` files of sentence-transformer exports often pad every input to a fixed 128
tokens and truncate silently: padding is switched off here and done per batch to its longest
input, and truncation is kept only to learn how long an input really was.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from inferstack.errors import InvalidRequestError

if TYPE_CHECKING:
    from inferstack.engines.embeddings import EmbeddingSettings, TokenizedInput
    from inferstack.models.sources import ResolvedModel

__all__ = ["OnnxEmbeddingBackend"]

logger = logging.getLogger(__name__)

_FALLBACK_MAX_TOKENS = 512  # BERT-family position embeddings


class OnnxEmbeddingBackend:
    """An ONNX sentence-transformer; see the module docstring. Use from one thread at a time."""

    def __init__(self, model: ResolvedModel, settings: EmbeddingSettings) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        if model.tokenizer_path is None:
            raise InvalidRequestError(
                f"ONNX model {model.source!r} has no tokenizer.json", param="model"
            )
        self._tokenizer = Tokenizer.from_file(str(model.tokenizer_path))
        self._tokenizer.no_padding()
        self._truncation: int | None = None
        # NOTE: a second instance for whole-text counting from other threads: changing a
        # tokenizer's truncation while another thread encodes with it fails ("already borrowed").
        self._counter = Tokenizer.from_file(str(model.tokenizer_path))
        self._counter.no_padding()
        self._counter.no_truncation()
        self._pad_id = self._tokenizer.token_to_id("[PAD]") or 0
        self.vocab_size = self._tokenizer.get_vocab_size()
        self.model_max_tokens = model.max_input_tokens or _FALLBACK_MAX_TOKENS
        self._normalize = settings.normalize

        options = ort.SessionOptions()
        options.intra_op_num_threads = settings.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # NOTE: idle worker threads would otherwise spin on the cores the LLM needs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            str(model.path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self.session.get_inputs()}
        missing = {"input_ids", "attention_mask"} - self._inputs
        if missing:
            raise InvalidRequestError(
                f"ONNX model {model.source!r} lacks the inputs {sorted(missing)}; expected a "
                "sentence-transformer export (input_ids, attention_mask)",
                param="model",
            )
        outputs = [o.name for o in self.session.get_outputs()]
        self._output = "sentence_embedding" if "sentence_embedding" in outputs else outputs[0]
        self._pooled = self._output == "sentence_embedding"
        self.dimensions = len(self.embed_batch([[self._pad_id]])[0])

    def tokenize(
        self, texts: list[str], max_tokens: int | None, *, add_special: bool = True
    ) -> list[TokenizedInput]:
        if max_tokens is None:
            encodings = self._counter.encode_batch(texts, add_special_tokens=add_special)
            return [(list(e.ids), len(e.ids)) for e in encodings]
        if max_tokens != self._truncation:
            self._tokenizer.enable_truncation(max_length=max_tokens)
            self._truncation = max_tokens
        result: list[TokenizedInput] = []
        for encoding in self._tokenizer.encode_batch(texts, add_special_tokens=add_special):
            # With stride 0 the overflow holds the cut tokens, each piece wrapped again in
            # the special tokens: count only its ordinary ones.
            cut = sum(
                len(piece.ids) - sum(piece.special_tokens_mask) for piece in encoding.overflowing
            )
            result.append((list(encoding.ids), len(encoding.ids) + cut))
        return result

    def embed_batch(self, batch: list[list[int]]) -> list[list[float]]:
        longest = max(len(ids) for ids in batch)
        input_ids = np.full((len(batch), longest), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), longest), dtype=np.int64)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        (output,) = self.session.run([self._output], feeds)
        if self._pooled:
            pooled = np.asarray(output, dtype=np.float32)
        else:
            weights = mask[..., None].astype(np.float32)
            pooled = (output * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        if self._normalize:
            pooled = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return pooled.astype(np.float32).tolist()  # type: ignore[no-any-return]

    def close(self) -> None:
        del self.session
