"""Statistics on synthetic request timelines with known answers."""

from __future__ import annotations

import pytest

from inferstack.bench.records import ErrorKind, RequestRecord, TokenSource
from inferstack.bench.stats import cost_per_million_tokens, percentile, summarize


def rec(start, chunks, end, tokens=None, *, source=TokenSource.USAGE, error=None, warmup=False):
    return RequestRecord(
        start=start,
        end=end,
        chunk_times=list(chunks),
        output_tokens=len(chunks) if tokens is None else tokens,
        prompt_tokens=10,
        token_source=source,
        error=error,
        warmup=warmup,
    )


def test_percentile_interpolates_like_numpy() -> None:
    assert percentile([1, 2, 3, 4], 50) == pytest.approx(2.5)
    assert percentile([1, 2, 3, 4], 90) == pytest.approx(3.7)
    assert percentile([4, 1, 3, 2], 0) == 1
    assert percentile([4, 1, 3, 2], 100) == 4
    assert percentile(list(range(101)), 99) == pytest.approx(99)
    assert percentile([5.0], 99) == 5.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1], 101)


def test_summary_of_two_overlapping_requests() -> None:
    records = [
        rec(0.0, [0.1, 0.2, 0.3], 0.35),
        rec(0.05, [0.25, 0.45], 0.5),
        rec(-5.0, [-4.0], -3.0, warmup=True),  # warm-up: outside the window and the counts
    ]
    s = summarize(records)
    assert s.requests == 2 and s.succeeded == 2 and s.errors == {}
    assert s.window_s == pytest.approx(0.5)
    assert s.output_tokens == 5
    assert s.output_tok_per_s == pytest.approx(10.0)  # 5 tokens / 0.5 s window, not / sum(e2e)
    assert s.req_per_s == pytest.approx(4.0)
    assert s.ttft_ms.p50 == pytest.approx(150.0)  # TTFTs 100 and 200 ms
    assert s.ttft_ms.count == 2
    assert s.itl_ms.p50 == pytest.approx(100.0)  # gaps 100, 100, 200 ms
    assert s.itl_ms.p99 == pytest.approx(198.0)
    assert s.itl_ms.mean == pytest.approx(400 / 3)
    assert s.tpot_ms.p50 == pytest.approx(150.0)  # 200/2 = 100 ms and 200/1 = 200 ms
    assert s.e2e_ms.p50 == pytest.approx(400.0)  # 350 and 450 ms
    assert s.mean_output_tokens == pytest.approx(2.5)
    assert s.mean_prompt_tokens == pytest.approx(10)
    assert s.token_source == "usage"
    assert s.ttft_samples_ms == pytest.approx([100.0, 200.0])


def test_usage_tokens_count_even_when_chunks_carry_several() -> None:
    # One chunk carrying 10 tokens by the server's usage: throughput uses the usage figure.
    s = summarize([rec(0.0, [0.5], 1.0, tokens=10)])
    assert s.output_tok_per_s == pytest.approx(10.0)
    assert s.itl_ms.count == 0 and s.tpot_ms.count == 0


def test_errors_are_counted_by_kind_and_excluded_from_latency() -> None:
    records = [
        rec(0.0, [0.1, 0.2], 1.0),
        rec(0.0, [], 0.01, tokens=0, error=ErrorKind.HTTP_429),
        rec(0.0, [], 0.02, tokens=0, error=ErrorKind.HTTP_429),
        rec(0.5, [0.6], 2.0, tokens=1, error=ErrorKind.STREAM),
    ]
    s = summarize(records)
    assert s.requests == 4 and s.succeeded == 1
    assert s.errors == {"http_429": 2, "stream": 1}
    assert s.error_rate == pytest.approx(0.75)
    assert s.window_s == pytest.approx(2.0)  # failed requests still occupy the window
    assert s.output_tokens == 2  # tokens of the failed stream are not counted
    assert s.e2e_ms.count == 1


def test_token_source_labels_fallback_and_mixture() -> None:
    chunks_only = summarize([rec(0, [0.1], 0.2, source=TokenSource.CHUNKS)])
    assert chunks_only.token_source == "chunks"
    mixed = summarize(
        [
            rec(0, [0.1], 0.2, source=TokenSource.CHUNKS),
            rec(0, [0.1], 0.2, source=TokenSource.USAGE),
        ]
    )
    assert mixed.token_source == "mixed"


def test_empty_level() -> None:
    s = summarize([])
    assert s.requests == 0 and s.output_tok_per_s == 0 and s.ttft_ms.p50 is None


def test_cost_per_million_output_tokens() -> None:
    # $3.60/h at 1000 tok/s = 3.6M tokens per hour -> $1 per 1M tokens.
    assert cost_per_million_tokens(3.6, 1000.0) == pytest.approx(1.0)
    assert cost_per_million_tokens(0.0416, 50.0) == pytest.approx(0.0416 / 0.18)
    assert cost_per_million_tokens(1.0, 0.0) is None
    s = summarize([rec(0.0, [0.5, 1.0], 1.0, tokens=100)], price_per_hour=0.36)
    assert s.usd_per_million_output_tokens == pytest.approx(1.0)


def test_metric_lookup() -> None:
    s = summarize([rec(0.0, [0.1, 0.2], 0.3)])
    assert s.metric("ttft_p50") == pytest.approx(100.0)
    assert s.metric("e2e_mean") == pytest.approx(300.0)
    with pytest.raises(ValueError):
        s.metric("speed_p50")


def test_empty_answers_succeed_but_are_counted() -> None:
    # A request that ends at once (end of generation before any text) is not a failure.
    records = [rec(0.0, [0.1, 0.2], 1.0), rec(0.0, [], 0.5, tokens=0)]
    s = summarize(records)
    assert s.succeeded == 2 and s.errors == {} and s.empty_responses == 1
    assert s.ttft_ms.count == 1 and s.e2e_ms.count == 2
    assert s.req_per_s == pytest.approx(2.0)
