"""The embedding engine on the real default model (all-MiniLM-L6-v2 int8 ONNX), and on a GGUF."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from inferstack.engines.embeddings import EmbeddingEngine, EmbeddingSettings
from inferstack.errors import ContextLengthError, InvalidRequestError, ServiceUnavailableError

SENTENCES = [
    "A cat is sitting on the mat.",
    "A kitten rests on a small rug.",
    "Stock markets fell sharply after the interest rate announcement.",
    "hello",
    "The quick brown fox jumps over the lazy dog, again and again, until it gets tired.",
    "Paris is the capital of France.",
    "",
    "Ünïcödé and emoji 🙂 survive tokenization.",
]


@pytest.fixture(scope="module")
def engine() -> Iterator[EmbeddingEngine]:
    # The engine keeps no loop-bound state, so one loaded model serves every test's loop.
    engine = EmbeddingEngine(EmbeddingSettings(threads=1, batch_size=3))
    asyncio.run(engine.start())
    yield engine
    asyncio.run(engine.shutdown())


def _cos(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_model_info(engine: EmbeddingEngine) -> None:
    info = engine.info
    assert (info.id, info.kind, info.dimensions) == ("all-MiniLM-L6-v2", "embedding", 384)
    assert info.context_length == engine.max_input_tokens == 256
    assert engine.ready()


async def test_similar_sentences_are_closer(engine: EmbeddingEngine) -> None:
    result = await engine.embed(SENTENCES[:3])
    cat, kitten, stocks = result.vectors
    assert all(len(v) == 384 for v in result.vectors)
    assert all(abs(np.linalg.norm(v) - 1) < 1e-5 for v in result.vectors)
    assert _cos(cat, kitten) > _cos(cat, stocks) + 0.3
    assert _cos(kitten, cat) > _cos(kitten, stocks) + 0.3


async def test_batch_matches_single(engine: EmbeddingEngine) -> None:
    # batch_size=3 and mixed lengths: several sorted batches, order restored
    batch = await engine.embed(SENTENCES)
    singles = [(await engine.embed([s])).vectors[0] for s in SENTENCES]
    np.testing.assert_allclose(np.array(batch.vectors), np.array(singles), atol=1e-5)
    assert batch.prompt_tokens == sum(len(engine.tokenize(s)) for s in SENTENCES)


async def test_token_arrays(engine: EmbeddingEngine) -> None:
    ids = engine.tokenize(SENTENCES[0])
    assert ids[0] == 101 and ids[-1] == 102  # [CLS] … [SEP]
    from_text = await engine.embed([SENTENCES[0]])
    from_ids = await engine.embed([ids, engine.tokenize(SENTENCES[2])])
    np.testing.assert_allclose(from_ids.vectors[0], from_text.vectors[0], atol=1e-6)
    assert from_text.prompt_tokens == len(ids) == 10  # 7 words, '.', [CLS], [SEP]
    assert from_ids.prompt_tokens == len(ids) + len(engine.tokenize(SENTENCES[2]))


async def test_too_long_input_is_refused_not_truncated(engine: EmbeddingEngine) -> None:
    long_text = "word " * 300  # 300 words + [CLS] + [SEP]
    with pytest.raises(ContextLengthError) as info:
        await engine.embed(["short", long_text])
    error = info.value
    assert (error.status, error.param, error.code) == (400, "input", "context_length_exceeded")
    assert "input[1] has 302 tokens" in error.message and "256" in error.message
    assert len(engine.tokenize(long_text)) == 302  # counting is never cut
    assert len(engine.tokenize(long_text, add_special=False)) == 300
    with pytest.raises(ContextLengthError, match=r"input\[0\] has 257 tokens"):
        await engine.embed([[1000] * 257])
    at_limit = await engine.embed([[1000] * 256])  # exactly the limit is fine
    assert at_limit.prompt_tokens == 256


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ([], "must not be empty"),
        ([[]], "non-empty"),
        ([[-1, 5]], "outside the vocabulary"),
        ([[30522]], "outside the vocabulary"),
        ([[1, True]], "non-integer"),
        ([[1.5]], "non-integer"),
    ],
)
async def test_bad_inputs(engine: EmbeddingEngine, inputs: list, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message) as info:
        await engine.embed(inputs)
    assert info.value.param == "input"


async def test_threads_and_serialised_worker(
    engine: EmbeddingEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = engine._backend
    assert backend is not None
    assert backend.session.get_session_options().intra_op_num_threads == 1
    loop_thread = threading.get_ident()
    seen: list[tuple[int, str]] = []
    active = 0
    peak = 0
    guard = threading.Lock()
    original = backend.embed_batch

    def recording(batch: list[list[int]]) -> list[list[float]]:
        nonlocal active, peak
        with guard:
            active += 1
            peak = max(peak, active)
        seen.append((threading.get_ident(), threading.current_thread().name))
        try:
            return original(batch)
        finally:
            with guard:
                active -= 1

    monkeypatch.setattr(backend, "embed_batch", recording)
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.005)

    tick_task = asyncio.create_task(ticker())
    started = time.monotonic()
    results = await asyncio.gather(*(engine.embed(SENTENCES * 4) for _ in range(4)))
    elapsed = time.monotonic() - started
    done.set()
    await tick_task
    assert all(r.vectors == results[0].vectors for r in results)
    assert peak == 1  # concurrent requests never run two forward passes at once
    assert {ident for ident, _ in seen} != {loop_thread}
    assert len({ident for ident, _ in seen}) == 1
    assert all(name.startswith("embedding-worker") for _, name in seen)
    # the event loop kept running while the model worked
    assert ticks >= min(10, int(elapsed / 0.005) // 4)
    assert engine.stats().running == 0 and engine.stats().waiting == 0


async def test_not_started() -> None:
    engine = EmbeddingEngine(EmbeddingSettings())
    assert not engine.ready()
    with pytest.raises(ServiceUnavailableError):
        await engine.embed(["x"])


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFERSTACK_EMBEDDING_BATCH_SIZE", "7")
    monkeypatch.setenv("INFERSTACK_EMBEDDING_THREADS", "2")
    settings = EmbeddingSettings()
    assert (settings.batch_size, settings.threads, settings.model) == (7, 2, "default-embedding")
    assert all(field.description for field in EmbeddingSettings.model_fields.values())
    with pytest.raises(ValueError, match="batch_size"):
        EmbeddingSettings(batch_size=0)


async def test_max_input_tokens_setting_and_model_id() -> None:
    engine = EmbeddingEngine(
        EmbeddingSettings(max_input_tokens=16, model_id="minilm", max_batch_tokens=64)
    )
    await engine.start()
    try:
        assert (engine.info.id, engine.info.context_length) == ("minilm", 16)
        with pytest.raises(ContextLengthError, match="input\\[0\\] has 17 tokens"):
            await engine.embed([" ".join(["word"] * 15)])
        # 64 padded tokens per pass: 10 inputs of 12 tokens go through in several passes
        result = await engine.embed(["one two three four five six seven eight nine ten"] * 10)
        assert len(result.vectors) == 10 and result.prompt_tokens == 120
    finally:
        await engine.shutdown()
    assert not engine.ready()


async def test_gguf_embeddings_with_the_default_gemma() -> None:
    """No GGUF embedding model ships here: run the causal Gemma with mean pooling, and check
    structure and determinism only (its vectors carry no promise of meaning)."""
    pytest.importorskip("llama_cpp")
    from inferstack.models.sources import resolve_model

    path = resolve_model("default", progress=False).path
    engine = EmbeddingEngine(
        EmbeddingSettings(model=str(path), max_batch_tokens=128, batch_size=4, threads=1)
    )
    await engine.start()
    try:
        info = engine.info
        assert (info.kind, info.dimensions, info.context_length) == ("embedding", 640, 128)
        assert info.metadata["format"] == "gguf"
        texts = SENTENCES[:5]
        first = await engine.embed(texts)
        again = await engine.embed(texts)
        assert first.vectors == again.vectors  # deterministic
        assert all(abs(np.linalg.norm(v) - 1) < 1e-5 for v in first.vectors)
        single = await engine.embed([texts[2]])
        # llama.cpp picks other quantized kernels for other batch shapes: close, not equal
        assert _cos(single.vectors[0], first.vectors[2]) > 0.999
        ids = engine.tokenize(texts[2])
        assert ids[0] == 2  # Gemma's BOS
        assert first.prompt_tokens == sum(len(engine.tokenize(t)) for t in texts)
        by_ids = await engine.embed([ids])
        np.testing.assert_allclose(by_ids.vectors[0], single.vectors[0], atol=1e-6)
        with pytest.raises(ContextLengthError, match="input\\[0\\] has"):
            await engine.embed(["word " * 200])
    finally:
        await engine.shutdown()
