"""`inferstack bench --profile` and `inferstack plan` on the real model server: measure a
profile, run an open-loop rate, and check the simulator's prediction has every field and the
plan prices the measured pool. No timing is asserted (the machine is shared)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import openai
import pytest
import yaml

from inferstack.cli.main import main
from inferstack.plan.profiles import load_profile
from support.servers import RunningServer, free_port
from support.services import wait_until

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


def test_the_wake_up_probe_writes_its_measurement_into_a_profile(
    chat_server: RunningServer, tmp_path: Path
) -> None:
    # measure.sh's step: the same prompt right after another request and after a pause.
    profile_path = tmp_path / "profile.yaml"
    recorded = Path(__file__).parents[1] / "plan" / "data" / "wake" / "profile.yaml"
    data = yaml.safe_load(recorded.read_text())
    data.update(wake_ms=None, wake_pause_s=None)
    profile_path.write_text(yaml.safe_dump(data))
    out = tmp_path / "wake.json"
    probe = Path(__file__).parents[2] / "docs" / "plan" / "ttft_probe.py"
    cmd = [sys.executable, str(probe), str(out), "--url", chat_server.url, "--no-closed",
           "--idle-sweep", "0,0.2", "--closed", "2", "--tokens", "4",
           "--profile", str(profile_path)]  # fmt: skip
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    profile = load_profile(profile_path)
    assert profile.wake_ms is not None and profile.wake_ms >= 0
    assert profile.wake_pause_s == 0.2
    records = json.loads(out.read_text())["idle_sweep"]["records"]
    assert len(records) == 4 and all(r["error"] is None and r["chunks"] for r in records)
    assert "after 0.2 s idle: n=2" in run.stdout


def _start_gateway(tmp: Path, config: Path) -> tuple[str, str, subprocess.Popen[bytes]]:
    port = free_port()
    log = tmp / "gateway.log"
    cmd = [
        sys.executable,
        "-m",
        "inferstack.cli.main",
        "gateway",
        "--config",
        str(config),
        "--port",
        str(port),
        "--state-dir",
        str(tmp / "state"),
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway exited:\n{log.read_text()}")
        try:
            return httpx.get(f"{url}/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ready, 60, "the gateway")
    return url, (tmp / "state" / "master_key").read_text().strip(), proc


def test_the_gateway_charges_the_planned_price(chat_server: RunningServer, tmp_path: Path) -> None:
    """plan gateway-prices writes a per-token price into a gateway config; the real gateway in
    front of the real server then charges a real request by it."""
    config = tmp_path / "gateway.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "model_groups": {
                    "chat": {
                        "deployments": [
                            {"api_base": chat_server.base_url, "model": chat_server.model}
                        ]
                    }
                }
            }
        )
    )
    assert (
        main(
            [
                "plan",
                "gateway-prices",
                "--config",
                str(config),
                "--group",
                "chat",
                "--profile",
                "gemma3-270m-q4km-inferstack-local",
                "--pool",
                "gemma3-270m-q4km-inferstack-local=c7i.large",
                "--rate",
                "0.1",
                "--prompt-tokens",
                "18",
                "--output-tokens",
                "32",
                "--ttft-ms",
                "5000",
                "--itl-ms",
                "500",
            ]
        )
        == 0
    )
    price = yaml.safe_load(config.read_text())["model_groups"]["chat"]["deployments"][0]
    per_million = price["output_cost_per_million"]
    assert per_million > 0
    url, master, proc = _start_gateway(tmp_path, config)
    try:
        admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {master}"})
        key = admin.post("/key/generate", json={"max_budget": 10}).json()["key"]
        client = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)
        reply = client.completions.create(
            model="chat", prompt="Q: 2+2?\nA:", max_tokens=6, temperature=0
        )
        assert reply.usage is not None
        tokens = reply.usage.completion_tokens
        wait_until(lambda: admin.get("/spend/logs").json() != [], 30, "the usage row")
        (log,) = admin.get("/spend/logs").json()
        assert log["cost"] == pytest.approx(tokens * per_million / 1e6)
        assert admin.get("/spend/keys").json()[0]["spend"] == pytest.approx(log["cost"])
    finally:
        proc.terminate()
        proc.wait(timeout=30)
