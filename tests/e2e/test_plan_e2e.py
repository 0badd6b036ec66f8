"""`inferstack bench --profile` and `inferstack plan` on the real model server: measure a
profile, run an open-loop rate, and check the simulator's prediction has every field and the
plan prices the measured pool. No timing is asserted (the machine is shared)."""

from __future__ import annotations

import json

import pytest

from inferstack.cli.main import main
from inferstack.plan.profiles import load_profile
from support.servers import RunningServer

pytestmark = pytest.mark.e2e


def test_profile_then_validate_then_plan(chat_server: RunningServer, tmp_path) -> None:
    common = [
        "bench",
        "--url",
        chat_server.url,
        "--endpoint",
        "completions",
        "--ignore-eos",
        "--max-tokens",
        "8",
        "--min-gain",
        "0",
        "--no-plots",
        "--no-cpu",
    ]
    profile_path = tmp_path / "profile.yaml"
    assert (
        main(
            [
                *common,
                "--concurrency",
                "1,2",
                "--requests",
                "3",
                "--output",
                str(tmp_path / "closed"),
                "--profile",
                str(profile_path),
                "--profile-field",
                "name=e2e-local",
                "--profile-field",
                "parallel=16",
                "--profile-field",
                "engine=inferstack",
            ]
        )
        == 0
    )
    profile = load_profile(profile_path)
    assert profile.name == "e2e-local" and profile.source.kind == "measured"
    assert [p.concurrency for p in profile.points] == [1, 2]
    assert all(p.itl_ms and p.ttft_ms and p.prefill_tok_per_s for p in profile.points)
    assert profile.mean_output_tokens == 8 and profile.cpu

    assert (
        main(
            [
                *common,
                "--rate",
                "1",
                "--requests",
                "4",
                "--warmup",
                "1",
                "--output",
                str(tmp_path / "open"),
            ]
        )
        == 0
    )
    rows_path = tmp_path / "validate.json"
    assert (
        main(
            [
                "plan",
                "validate",
                "--profile",
                str(profile_path),
                "--bench",
                str(tmp_path / "open" / "results.json"),
                "--json",
                str(rows_path),
            ]
        )
        == 0
    )
    (row,) = json.loads(rows_path.read_text())
    assert row["rate"] == 1 and row["requests"] == 4
    for key in ("ttft_p50_ms", "ttft_p99_ms", "itl_p50_ms", "output_tok_per_s"):
        assert row["measured"][key] > 0 and row["predicted"][key] > 0

    out = tmp_path / "plan"
    assert (
        main(
            [
                "plan",
                "--no-packaged",
                "--profile",
                str(profile_path),
                "--pool",
                "e2e-local=c7i.large",
                "--rate",
                "0.5",
                "--prompt-tokens",
                "15",
                "--output-tokens",
                "8",
                "--ttft-ms",
                "60000",
                "--itl-ms",
                "10000",
                "--output",
                str(out),
                "--no-plots",
            ]
        )
        == 0
    )
    plan = json.loads((out / "plan.json").read_text())
    (pool,) = plan["pools"]
    assert pool["instance"] == "c7i.large" and pool["feasible"] and pool["replicas"] >= 1
    assert pool["usd_per_hour"] == pytest.approx(pool["nodes"] * 0.08925)
