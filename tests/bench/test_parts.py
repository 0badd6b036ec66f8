"""Workloads, URL handling, settings validation, Poisson arrivals and /proc CPU sampling."""

from __future__ import annotations

import os
import socket
import statistics

import pytest
from pydantic import ValidationError

from inferstack.bench.cpu import CpuSampler, find_pid_by_port, process_tree_cpu_seconds
from inferstack.bench.levels import Budget, poisson_arrivals
from inferstack.bench.settings import LoopMode, RunConfig
from inferstack.bench.targets import check_host, is_loopback, normalize_url, parse_target
from inferstack.bench.workload import (
    Endpoint,
    Workload,
    default_prompts,
    load_prompts,
    synthetic_prompts,
)


def test_default_prompts_ship_with_the_package() -> None:
    prompts = default_prompts()
    assert len(prompts) >= 20 and all(p.startswith("Q: ") and p.endswith("\nA:") for p in prompts)


def test_prompts_file(tmp_path) -> None:
    path = tmp_path / "p.txt"
    path.write_text("# header\nfirst\\nline\n\n  second  \n")
    assert load_prompts(path) == ["first\nline", "second"]
    (tmp_path / "empty.txt").write_text("\n# only a comment\n")
    with pytest.raises(ValueError):
        load_prompts(tmp_path / "empty.txt")


def test_synthetic_prompts_have_the_length_and_differ() -> None:
    prompts = synthetic_prompts(8, 50, seed=1)
    assert len(prompts) == 8 and all(len(p.split()) == 50 for p in prompts)
    assert len({p.split()[:5].__str__() for p in prompts}) == 8
    assert synthetic_prompts(8, 50, seed=1) == prompts


def test_request_bodies() -> None:
    chat = Workload(prompts=["a", "b"], max_tokens=7, temperature=0.5, model="m")
    body = chat.body(3)
    assert body["messages"] == [{"role": "user", "content": "b"}]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == 7 and body["temperature"] == 0.5 and body["model"] == "m"
    assert "ignore_eos" not in body
    comp = Workload(prompts=["a"], endpoint=Endpoint.COMPLETIONS, ignore_eos=True).body(0)
    assert comp["prompt"] == "a" and comp["ignore_eos"] is True and "messages" not in comp


@pytest.mark.parametrize(
    ("url", "base", "endpoint"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000/v1", None),
        ("127.0.0.1:8000/", "http://127.0.0.1:8000/v1", None),
        ("http://localhost:8000/v1/", "http://localhost:8000/v1", None),
        ("http://127.0.0.1:8000/v1/chat/completions", "http://127.0.0.1:8000/v1", Endpoint.CHAT),
        ("http://127.0.0.1:8000/completions", "http://127.0.0.1:8000/v1", Endpoint.COMPLETIONS),
    ],
)
def test_normalize_url(url, base, endpoint) -> None:
    assert normalize_url(url) == (base, endpoint)


def test_loopback_rule_and_target_specs() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.9.9.9") and is_loopback("::1")
    assert is_loopback("localhost") and not is_loopback("10.0.0.1")
    assert not is_loopback("example.com")
    check_host("http://[::1]:80/v1", allow_remote=False)
    with pytest.raises(ValueError):
        check_host("http://example.com/v1", allow_remote=False)
    check_host("http://example.com/v1", allow_remote=True)
    assert parse_target("a=http://127.0.0.1:1") == ("a", "http://127.0.0.1:1")
    assert parse_target("http://127.0.0.1:1/v1?x=y") == ("127.0.0.1:1", "http://127.0.0.1:1/v1?x=y")


def test_run_config_validation() -> None:
    with pytest.raises(ValidationError):
        RunConfig(levels=[1.5])  # closed loop needs whole streams
    assert RunConfig(mode=LoopMode.OPEN, levels=[0.5]).levels == [0.5]
    with pytest.raises(ValidationError):
        RunConfig(levels=[0])
    with pytest.raises(ValidationError):
        RunConfig(slo_ms={"ttft_p95": 100})
    with pytest.raises(ValidationError):
        RunConfig(requests_per_level=None, duration_s=None)
    assert RunConfig().warmup_for(8) == 8
    assert RunConfig(warmup_requests=0).warmup_for(8) == 0


def test_poisson_arrivals() -> None:
    offsets = poisson_arrivals(4.0, 4000, None, seed=3)
    assert len(offsets) == 4000 and offsets == sorted(offsets)
    gaps = [b - a for a, b in zip([0.0, *offsets], offsets, strict=False)]
    assert statistics.mean(gaps) == pytest.approx(0.25, rel=0.05)
    assert statistics.stdev(gaps) == pytest.approx(0.25, rel=0.08)  # exponential: sd = mean
    within = poisson_arrivals(10.0, None, 5.0, seed=3)
    assert within and max(within) < 5.0
    assert poisson_arrivals(4.0, 10, None, seed=3) == offsets[:10]


def test_budget_caps_requests() -> None:
    budget = Budget(max_requests=2, max_seconds=60)
    assert budget.take() and budget.take() and not budget.take()
    assert 0 < budget.seconds_left <= 60


def test_find_pid_by_port_finds_this_process() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert find_pid_by_port(sock.getsockname()[1]) == os.getpid()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, not listening
        assert find_pid_by_port(sock.getsockname()[1]) is None


def _fake_stat(proc, pid: int, ppid: int, utime: int, stime: int, comm: str = "x y") -> None:
    (proc / str(pid)).mkdir()
    rest = ["S", str(ppid)] + ["0"] * 9 + [str(utime), str(stime)] + ["0"] * 10
    (proc / str(pid) / "stat").write_text(f"{pid} ({comm}) " + " ".join(rest))


def test_cpu_seconds_sum_a_process_tree(tmp_path) -> None:
    ticks = os.sysconf("SC_CLK_TCK")
    _fake_stat(tmp_path, 10, 1, ticks * 2, ticks * 1, comm="srv (main)")
    _fake_stat(tmp_path, 11, 10, ticks * 3, 0)
    _fake_stat(tmp_path, 12, 11, 0, ticks)
    _fake_stat(tmp_path, 20, 1, ticks * 100, 0)  # unrelated
    assert process_tree_cpu_seconds(10, tmp_path) == pytest.approx(7.0)
    assert process_tree_cpu_seconds(11, tmp_path) == pytest.approx(4.0)
    assert process_tree_cpu_seconds(99, tmp_path) is None
    sampler = CpuSampler(99, tmp_path)
    sampler.start()
    assert sampler.stop() is None


def test_extra_body_fields_are_sent_and_win() -> None:
    from inferstack.bench.workload import Workload

    workload = Workload(
        prompts=["hi"],
        extra_body={"response_format": {"type": "json_object"}, "temperature": 0.5},
    )
    body = workload.body(0, model="m")
    assert body["response_format"] == {"type": "json_object"}
    assert body["temperature"] == 0.5
