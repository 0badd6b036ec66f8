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
from support.grafana import (
    APP_BOARDS,
    GRAFANA,
    PLATFORM_BOARDS,
    RULES,
    alert_queries,
    dashboard_queries,
    rule_groups,
)

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
    assert "SUCCESS: 8 rules found" in result.stdout


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


def test_the_boards_follow_one_layout() -> None:
    """Every board: its own uid, the datasource variable, timeseries panels with unique ids on
    a two-column grid, each target a query with a legend; the e2e tests know each board."""
    boards = {p.stem: json.loads(p.read_text()) for p in (GRAFANA / "dashboards").glob("*.json")}
    assert set(boards) == {*PLATFORM_BOARDS, *APP_BOARDS}
    assert len({b["uid"] for b in boards.values()}) == len(boards)
    for stem, board in boards.items():
        assert board["uid"] == f"inferstack-{stem}" and board["title"] == f"inferstack / {stem}"
        assert board["templating"]["list"][0]["name"] == "datasource"
        ids = [p["id"] for p in board["panels"]]
        assert ids == list(range(1, len(ids) + 1)), stem
        for i, panel in enumerate(board["panels"]):
            assert panel["type"] == "timeseries"
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["gridPos"] == {"h": 8, "w": 12, "x": 12 * (i % 2), "y": 8 * (i // 2)}
            assert panel["fieldConfig"]["defaults"]["unit"]
            assert panel["targets"] and all(
                t["expr"] and t["legendFormat"] for t in panel["targets"]
            )


def test_the_chart_ships_the_same_files(chart_paths: ChartPaths) -> None:
    files = chart_paths.chart_dir / "files"
    assert (files / "alerts" / RULES.name).read_bytes() == RULES.read_bytes()
    shipped = sorted(p.name for p in (files / "dashboards").glob("*.json"))
    assert shipped == sorted(p.name for p in (GRAFANA / "dashboards").glob("*.json"))
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
    ours = [rule for rules in rule_groups().values() for rule in rules]
    assert len(ours) == 8
    for alert in ours:
        assert shipped[alert["alert"]]["expr"] == alert["expr"]
    [board] = [o for o in monitored if o["metadata"]["name"].endswith("-dashboards")]
    assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
    titles = {json.loads(text)["title"] for text in board["data"].values()}
    assert titles == {"inferstack / serving", "inferstack / gateway", "inferstack / apps"}


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A Kubernetes label selector (matchLabels, matchExpressions with In) against labels."""
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expr in selector.get("matchExpressions", []):
        assert expr["operator"] == "In", expr
        if labels.get(expr["key"]) not in expr["values"]:
            return False
    return True


def test_the_apps_monitor_scrapes_every_app_service(
    chart_paths: ChartPaths, helm_binary: Path
) -> None:
    """One ServiceMonitor (rendered with monitoring, whichever apps run) selects exactly the
    agents, rag and idp Services, on their named http port."""
    helm = Helm(helm_binary, chart_paths.chart_dir)
    everything = [
        "monitoring.enabled=true",
        "rag.enabled=true",
        "idp.enabled=true",
        "components={nodepools,models,gateway,agents,monitoring,rag,idp}",
    ]
    objects = helm.template([chart_paths.chart_dir / "values-graviton.yaml"], set_values=everything)
    [monitor] = [
        o
        for o in objects
        if o["kind"] == "ServiceMonitor" and o["metadata"]["name"].endswith("-apps")
    ]
    services = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Service"}
    picked = {
        n
        for n, s in services.items()
        if _selects(monitor["spec"]["selector"], s["metadata"]["labels"])
    }
    assert picked == {"inferstack-agents", "inferstack-rag", "inferstack-idp"}
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    for name in picked:
        assert endpoint["port"] in {p["name"] for p in services[name]["spec"]["ports"]}
    # the monitoring stage alone (make setup-observability) renders it too
    alone = helm.template(
        [chart_paths.chart_dir / "values-graviton.yaml"],
        set_values=["monitoring.enabled=true", "components={monitoring}"],
    )
    assert ("ServiceMonitor", "inferstack-apps") in {
        (o["kind"], o["metadata"]["name"]) for o in alone
    }
