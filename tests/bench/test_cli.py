"""``inferstack bench`` argument handling: targets, loopback rule, reference variables."""

from __future__ import annotations

import argparse
import json
import shlex

import pytest

from inferstack.cli import bench as bench_cli


def parse(argv: str | list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench_cli.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["bench", *(shlex.split(argv) if isinstance(argv, str) else argv)])


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("URL", "REQUESTS_PER_PROMPT", "NUM_WARMUP_REQUESTS"):
        monkeypatch.delenv(name, raising=False)


def test_issue_example_command() -> None:
    args = parse(
        "--url http://127.0.0.1:8000 --concurrency 1,2,4,8 --requests 64 --max-tokens "
        "128 --output out --no-cpu"
    )
    targets, workload, config = bench_cli.build_run(args)
    assert [t.base_url for t in targets] == ["http://127.0.0.1:8000/v1"]
    assert config.levels == [1, 2, 4, 8] and config.requests_per_level == 64
    assert config.mode == "closed" and workload.max_tokens == 128 and workload.endpoint == "chat"
    assert len(workload.prompts) >= 20  # the packaged default set


def test_compare_targets_keep_options_given_before_and_after() -> None:
    args = parse(
        "--max-tokens 32 compare a=http://127.0.0.1:1 b=http://localhost:2/v1 "
        "--concurrency 1,4 --no-cpu"
    )
    targets, workload, config = bench_cli.build_run(args)
    assert [(t.name, t.base_url) for t in targets] == [
        ("a", "http://127.0.0.1:1/v1"),
        ("b", "http://localhost:2/v1"),
    ]
    assert workload.max_tokens == 32 and config.levels == [1, 4]


def test_open_loop_slo_and_price() -> None:
    args = parse(
        "--url 127.0.0.1:9 --rate 0.5,2 --duration 10 --slo ttft_p90=1500 --slo "
        "e2e_p99=9000 --price-per-hour 0.34 --no-cpu"
    )
    _, _, config = bench_cli.build_run(args)
    assert config.mode == "open" and config.levels == [0.5, 2]
    assert config.duration_s == 10 and config.requests_per_level is None
    assert config.slo_ms == {"ttft_p90": 1500, "e2e_p99": 9000}
    assert config.price_per_hour == 0.34


def test_bad_slo_is_an_argument_error() -> None:
    with pytest.raises(SystemExit):
        parse(["--slo", "ttft_p90"])


def test_remote_host_needs_allow_remote() -> None:
    with pytest.raises(SystemExit, match="allow-remote"):
        bench_cli.build_run(parse(["--url", "http://10.1.2.3:8000", "--no-cpu"]))
    targets, _, _ = bench_cli.build_run(
        parse(["--url", "http://10.1.2.3:8000", "--no-cpu", "--allow-remote"])
    )
    assert targets[0].base_url == "http://10.1.2.3:8000/v1"


def test_reference_benchmark_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    prompts = tmp_path / "p.txt"
    prompts.write_text("one\ntwo\n# comment\n\nthree\n")
    monkeypatch.setenv("URL", "http://127.0.0.1:8080/v1/completions")
    monkeypatch.setenv("REQUESTS_PER_PROMPT", "5")
    monkeypatch.setenv("NUM_WARMUP_REQUESTS", "3")
    targets, workload, config = bench_cli.build_run(parse(["--prompts", str(prompts), "--no-cpu"]))
    assert targets[0].base_url == "http://127.0.0.1:8080/v1"
    assert workload.endpoint == "completions" and workload.prompts == ["one", "two", "three"]
    assert config.requests_per_level == 15 and config.warmup_requests == 3
    # Flags win over the variables.
    _, _, config = bench_cli.build_run(parse(["--requests", "4", "--warmup", "0", "--no-cpu"]))
    assert config.requests_per_level == 4 and config.warmup_requests == 0


def test_no_target_is_a_clear_error() -> None:
    with pytest.raises(SystemExit, match="--url"):
        bench_cli.build_run(parse(["--no-cpu"]))


def test_full_command_against_the_fake_server(fake_server, tmp_path) -> None:
    out = tmp_path / "run"
    args = parse(
        f"--url {fake_server.url} --concurrency 1,2 --requests 6 --max-tokens 4 "
        f"--synthetic-input-tokens 20 --synthetic-prompts 3 --output {out}".split()
    )
    assert bench_cli.run(args) == 0
    result = json.loads((out / "results.json").read_text())
    (target,) = result["targets"]
    # The fake server runs in this process: it was found by its port for CPU sampling.
    assert target["pid"] is not None
    assert [lvl["level"] for lvl in target["levels"]] == [1, 2]
    assert target["levels"][0]["stats"]["cpu_cores"] is not None
    assert {"report.md", "throughput.png", "latency.png", "ttft.png"} <= {
        p.name for p in out.iterdir()
    }
    assert len(fake_server.config.seen[0]["messages"][0]["content"].split()) == 20
    # No --model: the id the server lists at /v1/models is sent.
    assert target["model"] == "fake-model"
    assert {s["model"] for s in fake_server.config.seen} == {"fake-model"}


def test_started_peers_join_the_targets_after_the_named_ones() -> None:
    from types import SimpleNamespace

    args = parse(
        "compare mine=http://127.0.0.1:5 --peer reference --peer llama-server --peer-threads 2"
    )
    assert args.peer == ["reference", "llama-server"] and args.peer_parallel == 16
    peers = [
        SimpleNamespace(name="reference", base_url="http://127.0.0.1:6/v1", pid=42),
        SimpleNamespace(name="llama-server", base_url="http://127.0.0.1:7/v1", pid=43),
    ]
    targets, _, _ = bench_cli.build_run(args, peers)
    assert [(t.name, t.pid) for t in targets][1:] == [("reference", 42), ("llama-server", 43)]
    assert targets[0].name == "mine"
    only_peers = parse("compare --peer inferstack --peer reference --no-cpu")
    targets, _, _ = bench_cli.build_run(only_peers, peers)
    assert [t.name for t in targets] == ["reference", "llama-server"]
    assert all(t.pid is None for t in targets)


def test_peer_command_options() -> None:
    args = parse("peer llama-server --port 8081 --build-only --extra-args '--metrics -ub 256'")
    assert args.bench_command == "peer" and args.kind == "llama-server"
    assert args.port == 8081 and args.build_only and args.parallel == 16
    assert shlex.split(args.extra_args) == ["--metrics", "-ub", "256"]
    assert args.ctx_size == 2048


def test_variants_measure_the_first_target_with_their_request_fields(fake_server, tmp_path) -> None:
    out = tmp_path / "run"
    schema = '{"response_format": {"type": "json_object"}}'
    args = parse(
        [
            *f"--url {fake_server.url} --concurrency 1 --requests 2 --warmup 0 --max-tokens 4 "
            f"--no-plots --output {out} --variant tools_required".split(),
            "--variant",
            f"mine={schema}",
        ]
    )
    assert bench_cli.run(args) == 0
    result = json.loads((out / "results.json").read_text())
    assert [t["name"] for t in result["targets"]] == [
        "127.0.0.1:" + fake_server.url.rsplit(":")[-1],
        "tools_required",
        "mine",
    ]
    assert {t["base_url"] for t in result["targets"]} == {fake_server.url + "/v1"}
    # Interleaved level by level: plain, then each variant, each with its own fields only.
    plain, tools, mine = (fake_server.config.seen[i : i + 2] for i in (0, 2, 4))
    assert all("tools" not in b and "response_format" not in b for b in plain)
    assert all(b["tool_choice"] == "required" and "response_format" not in b for b in tools)
    assert all(b["response_format"] == {"type": "json_object"} and "tools" not in b for b in mine)
    assert set(result["ratios"]) >= {"tools_required", "mine"}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nope", "unknown variant preset 'nope'"),
        ("x=[1]", "expected a JSON object"),
        ("x={", "not JSON"),
    ],
)
def test_bad_variant_is_a_clear_error(spec: str, message: str) -> None:
    with pytest.raises(SystemExit, match=message):
        bench_cli.build_run(parse(["--url", "http://127.0.0.1:1", "--no-cpu", "--variant", spec]))
