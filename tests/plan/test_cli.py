"""``inferstack plan`` from the command line: the report, the simulator with the chart's
autoscaling_config, gateway prices, the profile list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from inferstack.cli.main import main
from inferstack.plan.profiles import save_profile
from plan.toys import make_profile

REPO = Path(__file__).resolve().parents[2]
VALUES = REPO / "deploy" / "helm" / "inferstack" / "values.yaml"


def test_plan_writes_report_with_cheapest_crossover_and_plots(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = main(
        [
            "plan",
            "--params-b",
            "8",
            "--rate",
            "1",
            "--prompt-tokens",
            "200",
            "--output-tokens",
            "200",
            "--ttft-ms",
            "2000",
            "--itl-ms",
            "200",
            "--loads",
            "0.01,1,10",
            "--output",
            str(out),
        ]
    )
    assert code == 0
    plan = json.loads((out / "plan.json").read_text())
    names = {p["profile"] for p in plan["pools"]}
    assert "published-llama3.1-8b-fp16-vllm-h100" in names
    assert plan["cheapest"] in {p["pool"] for p in plan["pools"]}
    assert [p["rate"] for p in plan["loads"]] == [0.01, 1, 10]
    assert plan["crossover_rps"] is not None
    md = (out / "plan.md").read_text()
    assert "Cheapest meeting the SLO" in md and "GPU pool cheaper" in md
    assert (out / "cost_vs_load.png").stat().st_size > 1000
    assert (out / "slo_vs_load.png").stat().st_size > 1000


def test_simulate_a_trace_with_the_charts_autoscaling_and_recommend(tmp_path: Path) -> None:
    profile = tmp_path / "p.yaml"
    save_profile(make_profile(), profile)
    trace = tmp_path / "trace.csv"
    rows = ["arrival_s,prompt_tokens,output_tokens"]
    rows += [f"{i * 0.5:.2f},10,20" for i in range(60)]  # 2 req/s for 30 s
    rows += [f"{30 + i * 5:.2f},10,20" for i in range(12)]  # then a trickle
    trace.write_text("\n".join(rows) + "\n")
    out = tmp_path / "sim"
    assert (
        main(
            [
                "plan",
                "simulate",
                "--profile",
                str(profile),
                "--trace",
                str(trace),
                "--chart-values",
                str(VALUES),
                "--chart-model",
                "chat",
                "--ttft-ms",
                "5000",
                "--itl-ms",
                "200",
                "--recommend",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    data = json.loads((out / "simulate.json").read_text())
    chart = yaml.safe_load(VALUES.read_text())["chat"]["serve"]["autoscaling_config"]
    assert (
        data["spec"]["autoscaling"]["target_ongoing_requests"] == chart["target_ongoing_requests"]
    )
    assert data["summary"]["completed"] == 72
    assert data["summary"]["cost_usd"] > 0
    rec = data["recommended_autoscaling_config"]
    assert rec is not None and rec["max_replicas"] == chart["max_replicas"]
    costs = {json.dumps(c["config"], sort_keys=True): c["cost_usd"] for c in data["candidates"]}
    assert costs[json.dumps(rec, sort_keys=True)] == min(
        c["cost_usd"] for c in data["candidates"] if c["slo_attainment"] >= 0.95
    )
    assert (out / "timeline.png").stat().st_size > 1000
    windows = data["slo_over_time"]
    assert [w["t"] for w in windows][:2] == [0.0, 60.0]
    assert sum(w["requests"] for w in windows) == 72
    assert all(0 <= w["slo_attainment"] <= 1 for w in windows)
    assert data["timeline"][0]["t"] == 0.0 and "cost_usd" in data["timeline"][-1]


def test_gateway_prices_command_rewrites_the_group(tmp_path: Path) -> None:
    profile = tmp_path / "p.yaml"
    save_profile(make_profile(), profile)
    cfg = tmp_path / "gateway.yaml"
    cfg.write_text(
        "model_groups:\n  default:\n    deployments:\n      - api_base: http://127.0.0.1:8000/v1\n"
    )
    assert (
        main(
            [
                "plan",
                "gateway-prices",
                "--config",
                str(cfg),
                "--group",
                "default",
                "--profile",
                str(profile),
                "--rate",
                "0.5",
                "--prompt-tokens",
                "10",
                "--output-tokens",
                "50",
                "--ttft-ms",
                "5000",
            ]
        )
        == 0
    )
    dep = yaml.safe_load(cfg.read_text())["model_groups"]["default"]["deployments"][0]
    assert dep["output_cost_per_million"] > 0 and dep["cost_per_second"] == 0


def test_profiles_lists_sources_and_gaps(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "profiles"]) == 0
    text = capsys.readouterr().out
    assert "https://github.com/ggml-org/llama.cpp/pull/15277" in text
    assert "missing:" in text


def test_client_mistakes_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="give --rate R or --trace FILE"):
        main(["plan", "--params-b", "8"])
    with pytest.raises(SystemExit, match="length 'gauss:3'"):
        main(["plan", "--rate", "1", "--output-tokens", "gauss:3"])
    with pytest.raises(SystemExit, match="no profile file or packaged profile named 'nope'"):
        main(["plan", "simulate", "--profile", "nope", "--rate", "1"])
