"""Dashboards and alerts as code: promtool checks and unit-tests the rules, every metric they
use is one the stack names, and the chart ships the same files (PrometheusRule, dashboards,
ServiceMonitor and PodMonitors)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from inferstack.deploy import ChartPaths
from inferstack.deploy.helm import Helm
from inferstack.telemetry.metrics import ALL
from support.grafana import GRAFANA, RULES, alert_queries, dashboard_queries

_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def _promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool comes with the Debian prometheus package (make system-deps)"
    return found


def test_promtool_checks_the_rules() -> None:
    result = subprocess.run(
        [_promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 7 rules found" in result.stdout


def test_promtool_unit_tests_the_alerts() -> None:
    result = subprocess.run(
        [_promtool(), "test", "rules", "inferstack.rules.test.yaml"],
        cwd=GRAFANA / "alerts",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_metric_used_is_one_the_stack_names() -> None:
    known = {series for spec in ALL for series in spec.series}
    used = {
        word
        for query in dashboard_queries() + alert_queries()
        for word in _IDENT.findall(query)
        if word.startswith(("inferstack_", "gen_ai_"))
        and not word.startswith(("gen_ai_request_", "gen_ai_operation_"))
    }
    assert used, "the dashboards use metrics"
    assert used <= known, sorted(used - known)


def test_the_chart_ships_the_same_files(chart_paths: ChartPaths) -> None:
    files = chart_paths.chart_dir / "files"
    assert (files / "alerts" / RULES.name).read_bytes() == RULES.read_bytes()
    for path in (GRAFANA / "dashboards").glob("*.json"):
        assert (files / "dashboards" / path.name).read_bytes() == path.read_bytes()


@pytest.fixture(scope="module")
def monitored(chart_paths: ChartPaths, helm_binary: Path, tmp_path_factory: Any) -> list[Any]:
    values = tmp_path_factory.mktemp("values") / "monitoring.yaml"
    values.write_text(yaml.safe_dump({"monitoring": {"enabled": True}}))
    helm = Helm(helm_binary, chart_paths.chart_dir)
    return helm.template([chart_paths.chart_dir / "values-graviton.yaml", values])


def test_the_chart_renders_rules_dashboards_and_monitors(monitored: list[Any]) -> None:
    kinds = {(o["kind"], o["metadata"]["name"]) for o in monitored}
    for expected in [
        ("ServiceMonitor", "inferstack-gateway"),
        ("PodMonitor", "inferstack-model-servers"),
        ("PrometheusRule", "inferstack"),
        ("ConfigMap", "inferstack-dashboards"),
    ]:
        assert expected in kinds, expected
    [rule] = [o for o in monitored if o["kind"] == "PrometheusRule"]
    shipped = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    ours = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    for alert in ours:
        assert shipped[alert["alert"]]["expr"] == alert["expr"]
    [board] = [o for o in monitored if o["metadata"]["name"].endswith("-dashboards")]
    assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
    titles = {json.loads(text)["title"] for text in board["data"].values()}
    assert titles == {"inferstack / serving", "inferstack / gateway"}
