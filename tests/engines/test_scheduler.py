"""The llama.cpp scheduler's corner cases, on the real default model through real llama.cpp:
only its own thread calls into the context, one sequence's failure ends only it, a full KV
cache ends only the sequence that needed the room, shutdown answers every request, logprobs
come from the real logits."""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import AsyncIterator
from typing import Any

import llama_cpp as ll
import pytest
from pydantic import ValidationError

from inferstack.engines.base import Delta, GenerateRequest, SamplingParams
from inferstack.engines.llamacpp.engine import LlamaCppEngine
from inferstack.engines.llamacpp.settings import LlamaCppSettings
from inferstack.errors import EngineError, InferstackError, ServiceUnavailableError
from inferstack.models.sources import resolve_model

LIMIT = 120.0
"""Seconds a generation may take before the test calls it hung."""


def settings(**overrides: Any) -> LlamaCppSettings:
    model = resolve_model("default")
    values: dict[str, Any] = {
        "model_path": str(model.path),
        "model_id": "default",
        "ctx_size": 256,
        "parallel": 4,
        "threads": 1,  # a loaded 2-core box makes two decode threads spin on each other
        "batch_size": 64,
        **overrides,
    }
    return LlamaCppSettings(**values)


async def started(**overrides: Any) -> LlamaCppEngine:
    engine = LlamaCppEngine(settings(**overrides))
    await engine.start()
    return engine


def request(prompt: str, **params: Any) -> GenerateRequest:
    return GenerateRequest(
        request_id=f"t-{prompt[:8]}", prompt=prompt, params=SamplingParams(**params)
    )


async def run(stream: AsyncIterator[Delta]) -> list[Delta]:
    return [delta async for delta in stream]


async def outcome(stream: AsyncIterator[Delta]) -> list[Delta] | InferstackError:
    try:
        return await asyncio.wait_for(run(stream), LIMIT)
    except InferstackError as exc:
        return exc


def test_batch_smaller_than_parallel_is_refused() -> None:
    with pytest.raises(ValidationError, match="batch_size"):
        settings(parallel=32, batch_size=16)


async def test_only_the_scheduler_thread_calls_into_the_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = await started()
    threads: set[str] = set()
    for name in ("llama_get_logits_ith", "llama_sampler_sample", "llama_get_logits"):
        real = getattr(ll, name)

        def spy(*args: Any, _real: Any = real) -> Any:
            threads.add(threading.current_thread().name)
            return _real(*args)

        monkeypatch.setattr(ll, name, spy)
    try:
        prompts = ["Once upon a time", "The weather today", "My favourite food"]
        outs = await asyncio.gather(
            *(
                run(engine.generate(request(p, max_tokens=12, temperature=0.8, seed=1)))
                for p in prompts
            )
        )
    finally:
        await engine.shutdown()
    assert all(out[-1].finish_reason for out in outs)
    assert threads == {"llamacpp-scheduler"}


async def test_one_sequence_failing_ends_only_that_sequence() -> None:
    engine = await started()
    try:
        sched = engine._scheduler
        assert sched is not None
        doomed = engine.generate(request("Once upon a time", max_tokens=20, ignore_eos=True))
        first = await anext(doomed)  # running now
        assert first.finish_reason is None
        seq = next(s for s in sched.running if s.request.request_id.startswith("t-Once"))

        def broken(text: str) -> tuple[str, bool]:
            raise ValueError("this sequence's stop matcher broke")

        seq.matcher.feed = broken  # type: ignore[method-assign]
        healthy = engine.generate(request("The weather today", max_tokens=20, ignore_eos=True))
        bad, good = await asyncio.gather(outcome(doomed), outcome(healthy))
    finally:
        await engine.shutdown()
    assert isinstance(bad, EngineError) and "stop matcher broke" in bad.message
    assert isinstance(good, list) and good[-1].finish_reason == "length"
    assert good[-1].usage is not None and good[-1].usage.completion_tokens == 20


async def test_full_kv_cache_ends_only_the_sequence_that_needs_room() -> None:
    """Two slots of 64 tokens share 128 (or so) cells; a sequence is let past its budget (as an
    unchecked output budget would) until the cells run out: ``llama_decode`` returns 1, the
    idle slot's cached prefix goes first, then the runaway ends with a 503; the other
    carries on to its own end."""
    engine = await started(ctx_size=64, parallel=2, batch_size=32)
    try:
        sched = engine._scheduler
        assert sched is not None
        streams = [
            engine.generate(request(p, max_tokens=50, ignore_eos=True))
            for p in ("Once upon a time", "The weather today is")
        ]
        firsts = await asyncio.gather(*(anext(s) for s in streams))
        assert all(d.finish_reason is None for d in firsts)
        long, short = sorted(sched.running, key=lambda s: len(s.prompt), reverse=True)
        cells = sched.model.n_ctx_total  # 128, padded up by llama.cpp
        long.max_new, short.max_new = cells, 40  # more than all the cells together
        ends = await asyncio.gather(*(outcome(s) for s in streams))
    finally:
        await engine.shutdown()
    errors = [e for e in ends if isinstance(e, InferstackError)]
    finished = [e for e in ends if isinstance(e, list)]
    assert len(errors) == 1 and isinstance(errors[0], ServiceUnavailableError), ends
    assert "KV cache" in errors[0].message
    assert len(finished) == 1 and finished[0][-1].finish_reason == "length"


async def test_shutdown_answers_every_request_with_an_error() -> None:
    engine = await started()
    stream = engine.generate(request("Once upon a time", max_tokens=200, ignore_eos=True))
    assert (await anext(stream)).finish_reason is None
    queued = [
        engine.generate(request(f"Story number {i}", max_tokens=200, ignore_eos=True))
        for i in range(6)  # more than the 4 slots: some wait in the queue
    ]
    pending = [asyncio.ensure_future(outcome(s)) for s in queued]
    await asyncio.sleep(0)
    await engine.shutdown()
    ends = await asyncio.wait_for(asyncio.gather(outcome(stream), *pending), LIMIT)
    for end in ends:
        assert isinstance(end, ServiceUnavailableError | list), end
    assert isinstance(ends[0], ServiceUnavailableError)
    with pytest.raises(ServiceUnavailableError):
        await anext(engine.generate(request("after shutdown")))


async def test_logprobs_come_from_the_real_logits() -> None:
    engine = await started()
    try:
        out = await run(
            engine.generate(
                request(
                    "Q: What is the capital of France?\nA:", max_tokens=8, temperature=0, logprobs=3
                )
            )
        )
    finally:
        await engine.shutdown()
    entries = [e for d in out for e in d.logprobs]
    assert 1 <= len(entries) <= 8
    assert b"".join(e.piece for e in entries).decode() == "".join(d.text for d in out)
    for e in entries:
        assert len(e.top) == 3
        assert e.top[0][0] == e.token  # greedy: the most likely token is the one taken
        assert math.isclose(e.top[0][2], e.logprob)
        assert e.logprob <= 0 and [t[2] for t in e.top] == sorted(
            (t[2] for t in e.top), reverse=True
        )
        assert sum(math.exp(t[2]) for t in e.top) <= 1.0 + 1e-6


def _text(deltas: list[Delta]) -> str:
    return "".join(d.text for d in deltas)


async def test_kv_streams_keep_running_sequences_low_and_caches_whole() -> None:
    """With one KV stream per sequence: a sequence left above a free slot moves down into it
    (its stream swapped with the free slot's through the scratch stream) and continues as if
    nothing happened; caches displaced by a newcomer or by the move are kept, so two solo runs
    of the same prompt still reuse its prefix and give the same text."""
    engine = await started(prefill_chunk=8)
    first = "The history of the city of Rome begins with a small village on the river"
    second = "A recipe for bread needs flour, water, salt and yeast, and the first step is"
    counting = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,"
    try:
        sched = engine._scheduler
        assert sched is not None and not engine.settings.kv_unified
        solo = {}
        for prompt in (first, second):
            solo[prompt] = await run(
                engine.generate(request(prompt, max_tokens=6, temperature=0.0))
            )
        short = engine.generate(request(second, max_tokens=4, temperature=0.0))
        counter = engine.generate(
            request(counting, max_tokens=40, temperature=0.0, ignore_eos=True)
        )
        await anext(short)  # running on slot 0
        out = [await anext(counter)]  # on slot 1
        assert [s.slot.seq_id for s in sched.running if s.slot] == [0, 1]
        await run(short)  # ends, leaving a free slot below the counter
        out += await run(counter)
        # The counter ended on slot 0 (its cache is the longest one there).
        longest = max(sched.slots.slots, key=lambda slot: len(slot.tokens))
        assert longest.seq_id == 0 and len(longest.tokens) > 80
        assert _text(out).startswith(" 17, 18, 19, 20, 21, 22, 23, 24"), _text(out)
        for prompt in (first, second):
            again = await run(engine.generate(request(prompt, max_tokens=6, temperature=0.0)))
            assert _text(again) == _text(solo[prompt])
            usage = again[-1].usage
            assert usage is not None and usage.cached_tokens >= 8, (prompt, usage)
    finally:
        await engine.shutdown()
