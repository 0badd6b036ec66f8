"""The whole tool over real HTTP against the fake streaming server on 127.0.0.1."""

from __future__ import annotations

import json

import pytest

from inferstack.bench.client import Target, make_client, send
from inferstack.bench.plots import write_plots
from inferstack.bench.ramp import Bench
from inferstack.bench.records import ErrorKind, RequestRecord, TokenSource
from inferstack.bench.report import markdown_report, write_json
from inferstack.bench.results import BenchResult
from inferstack.bench.settings import LoopMode, RunConfig
from inferstack.bench.workload import Endpoint, Workload


async def one(server, workload: Workload | None = None) -> RequestRecord:
    wl = workload or Workload(prompts=["hi"], max_tokens=5)
    record = RequestRecord(start=0.0)
    async with make_client(2, 10.0) as client:
        target = Target(name="fake", base_url=server.base_url)
        return await send(client, target, wl.endpoint.path, wl.body(0), record)


async def test_tokens_come_from_the_usage_chunk(fake_server) -> None:
    r = await one(fake_server)
    assert r.ok and r.token_source is TokenSource.USAGE
    assert r.output_tokens == 5 and r.prompt_tokens == 7 and len(r.chunk_times) == 5
    assert fake_server.config.seen[0]["stream_options"] == {"include_usage": True}


async def test_sequential_streams_share_one_connection(fake_server) -> None:
    # The rest of the body after [DONE] is read, so the connection goes back to the pool (as
    # with the openai SDK) instead of being dialled again for every request.
    wl = Workload(prompts=["hi"], max_tokens=3)
    async with make_client(2, 10.0) as client:
        target = Target(name="fake", base_url=fake_server.base_url)
        records = [
            await send(client, target, wl.endpoint.path, wl.body(0), RequestRecord(start=0.0))
            for _ in range(3)
        ]
    assert all(r.ok and r.output_tokens == 3 for r in records)
    assert len(fake_server.config.peers) == 3 and len(set(fake_server.config.peers)) == 1


async def test_fallback_counts_chunks_when_no_usage(fake_server) -> None:
    fake_server.config.send_usage = False
    wl = Workload(prompts=["hi"], max_tokens=4, endpoint=Endpoint.COMPLETIONS)
    r = await one(fake_server, wl)
    assert r.ok and r.token_source is TokenSource.CHUNKS and r.output_tokens == 4
    assert fake_server.config.seen[0]["prompt"] == "hi"


@pytest.mark.parametrize(
    ("status", "kind"),
    [(429, ErrorKind.HTTP_429), (400, ErrorKind.HTTP_4XX), (503, ErrorKind.HTTP_5XX)],
)
async def test_http_errors_by_kind(fake_server, status, kind) -> None:
    fake_server.config.fail_status = status
    r = await one(fake_server)
    assert r.error is kind and r.status == status and "fake failure" in r.detail


async def test_stream_error_event_and_missing_done(fake_server) -> None:
    fake_server.config.error_event = True
    r = await one(fake_server)
    assert r.error is ErrorKind.STREAM and "boom" in r.detail
    fake_server.config.error_event = False
    fake_server.config.skip_done = True
    r = await one(fake_server)
    assert r.error is ErrorKind.STREAM and "[DONE]" in r.detail


async def test_connection_refused_is_a_connect_error() -> None:
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()

    class Dead:
        base_url = f"http://127.0.0.1:{port}/v1"

    r = await one(Dead())
    assert r.error is ErrorKind.CONNECT


async def test_closed_loop_ramp_with_outputs(fake_server, tmp_path) -> None:
    fake_server.config.fail_status, fake_server.config.fail_every = 500, 7
    bench = Bench(
        [Target(name="fake", base_url=fake_server.base_url)],
        Workload(prompts=["a", "b", "c"], max_tokens=6),
        RunConfig(
            levels=[1, 2, 4],
            requests_per_level=12,
            min_gain=0,
            max_error_rate=1,
            price_per_hour=1.0,
        ),
    )
    result = await bench.run()
    # 1 + 2 + 4 warm-up requests (one per stream) and 12 measured per level.
    assert len(fake_server.config.seen) == 7 + 36
    prompts = [s["messages"][0]["content"] for s in fake_server.config.seen]
    assert prompts[:4] == ["a", "b", "c", "a"]
    (target,) = result.targets
    assert [lr.level for lr in target.levels] == [1, 2, 4]
    for lr in target.levels:
        s = lr.stats
        assert s.requests == 12
        assert s.succeeded + s.errors.get("http_5xx", 0) == 12
        assert s.output_tokens == 6 * s.succeeded and s.token_source == "usage"
        assert s.output_tok_per_s > 0 and s.usd_per_million_output_tokens is not None
        assert s.ttft_ms.p50 is not None and s.ttft_ms.p50 <= s.ttft_ms.p99
    assert sum(lr.stats.errors.get("http_5xx", 0) for lr in target.levels) > 0

    write_json(result, tmp_path / "results.json")
    loaded = BenchResult.model_validate(json.loads((tmp_path / "results.json").read_text()))
    assert loaded.targets[0].levels[2].stats.output_tokens == target.levels[2].stats.output_tokens
    names = write_plots(result, tmp_path)
    assert names == ["throughput.png", "latency.png", "ttft.png"]
    for name in names:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = markdown_report(result, names)
    assert "## fake" in md and "| 4 | 12 |" in md and "![ttft.png](ttft.png)" in md
    assert "http_5xx" in md


async def test_open_loop_sends_the_planned_arrivals(fake_server) -> None:
    bench = Bench(
        [Target(name="fake", base_url=fake_server.base_url)],
        Workload(prompts=["a"], max_tokens=3),
        RunConfig(
            mode=LoopMode.OPEN,
            levels=[50.0, 100.0],
            requests_per_level=10,
            warmup_requests=1,
            min_gain=0,
        ),
    )
    result = await bench.run()
    assert [lr.stats.requests for lr in result.targets[0].levels] == [10, 10]
    assert len(fake_server.config.seen) == 22


async def test_time_cap_cancels_in_flight_requests(fake_server) -> None:
    fake_server.config.delay_s = 0.5
    bench = Bench(
        [Target(name="fake", base_url=fake_server.base_url)],
        Workload(prompts=["a"], max_tokens=50),
        RunConfig(levels=[2, 4], requests_per_level=100, warmup_requests=0, max_run_s=1.0),
    )
    result = await bench.run()
    assert result.run_stopped == "time cap"
    (lr,) = result.targets[0].levels
    assert lr.stats.errors == {"cancelled": 2}


async def test_compare_against_itself_gives_ratios(fake_server) -> None:
    targets = [Target(name=n, base_url=fake_server.base_url) for n in ("one", "two")]
    bench = Bench(
        targets,
        Workload(prompts=["a"], max_tokens=4),
        RunConfig(levels=[1, 2], requests_per_level=4, min_gain=0),
    )
    result = await bench.run()
    assert set(result.ratios["two"]) == {"1", "2"}
    assert result.ratios["two"]["1"]["output_tok_per_s"] > 0
    assert "two / one" in markdown_report(result)


async def test_non_object_sse_data_is_a_stream_error(fake_server) -> None:
    fake_server.config.raw_events = [b"data: [1, 2]\n\n"]
    r = await one(fake_server)
    assert r.error is ErrorKind.STREAM and "bad SSE data" in r.detail


async def test_time_cap_in_open_loop_marks_every_request(fake_server) -> None:
    fake_server.config.delay_s = 0.5
    bench = Bench(
        [Target(name="fake", base_url=fake_server.base_url)],
        Workload(prompts=["a"], max_tokens=50),
        RunConfig(
            mode=LoopMode.OPEN,
            levels=[1000.0],
            requests_per_level=10,
            warmup_requests=0,
            max_run_s=1.0,
        ),
    )
    result = await bench.run()
    assert result.run_stopped == "time cap"
    (lr,) = result.targets[0].levels
    assert lr.stats.requests == 10 and lr.stats.errors == {"cancelled": 10}
    assert 0 < lr.stats.window_s < 5


async def test_zero_token_answer_is_a_success(fake_server) -> None:
    fake_server.config.tokens = 0
    r = await one(fake_server)
    assert r.ok and r.output_tokens == 0 and r.token_source is TokenSource.USAGE


async def test_open_loop_stamps_the_scheduled_arrival_not_the_send(fake_server) -> None:
    # One request in flight at a time against arrivals every ~1 ms: most requests wait in the
    # client. Their records must start at the planned arrival (no coordinated omission).
    from inferstack.bench.levels import Budget, LevelContext, poisson_arrivals, run_level

    fake_server.config.delay_s = 0.01
    config = RunConfig(
        mode=LoopMode.OPEN, levels=[1000.0], requests_per_level=6, warmup_requests=0,
        max_in_flight=1, min_gain=0,
    )  # fmt: skip
    records: list[RequestRecord] = []
    counter = iter(range(100))
    async with make_client(2, 10.0) as client:
        ctx = LevelContext(
            client=client,
            target=Target(name="fake", base_url=fake_server.base_url),
            workload=Workload(prompts=["a"], max_tokens=2),
            config=config,
            budget=Budget(100, 60),
            next_prompt=lambda: next(counter),
        )
        await run_level(ctx, 1000.0, records)
    planned = poisson_arrivals(1000.0, 6, None, seed=config.seed + 1000 * 1000)
    assert len(records) == 6 and all(r.ok for r in records)
    starts = sorted(r.start for r in records)
    assert [s - starts[0] for s in starts] == pytest.approx(
        [p - planned[0] for p in planned], abs=1e-9
    )
    sent = sorted(r.sent or 0.0 for r in records)
    assert all(r.sent is not None and r.sent >= r.start for r in records)
    # Each send waited for the previous request's end: the waiting shows in e2e.
    assert sent[-1] > starts[-1] and records[-1].client_wait > 0
    assert all(r.e2e >= r.end - (r.sent or r.start) for r in records)


async def test_tool_call_deltas_count_as_output_for_ttft(fake_server) -> None:
    call = {"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": ""}}
    args = {"index": 0, "function": {"arguments": '{"a": 1}'}}
    fake_server.config.tokens = 0
    events = [{"choices": [{"index": 0, "delta": {"tool_calls": [c]}}]} for c in (call, args)]
    fake_server.config.raw_events = [f"data: {json.dumps(e)}\n\n".encode() for e in events]
    r = await one(fake_server, Workload(prompts=["hi"], max_tokens=5))
    assert r.ok and len(r.chunk_times) == 2 and r.ttft is not None
