"""The PromQL the dashboards and alerts in deploy/grafana run, for the tests that check it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

GRAFANA = Path(__file__).resolve().parents[2] / "deploy" / "grafana"
RULES = GRAFANA / "alerts" / "inferstack.rules.yaml"
_THRESHOLD = re.compile(r"\s*>\s*[0-9.]+\s*$")

PLATFORM_BOARDS = ("serving", "gateway")
"""Dashboards of the platform (model servers, gateway): ``inferstack up`` runs what they show."""
APP_BOARDS = ("apps",)
"""Dashboards of the apps (agents, rag, idp services)."""
PLATFORM_RULES = "inferstack"
APP_RULES = "inferstack-apps"


def dashboard_queries(boards: tuple[str, ...] | None = None) -> list[str]:
    """Every query of the dashboards named ``boards`` (default: all of them)."""
    queries = []
    for path in sorted((GRAFANA / "dashboards").glob("*.json")):
        if boards is not None and path.stem not in boards:
            continue
        for panel in json.loads(path.read_text())["panels"]:
            queries += [t["expr"] for t in panel["targets"]]
    return queries


def rule_groups() -> dict[str, list[dict]]:
    return {g["name"]: g["rules"] for g in yaml.safe_load(RULES.read_text())["groups"]}


def alert_queries(group: str | None = None) -> list[str]:
    """Each alert's query without its threshold (every alert is ``<query> > <number>``), of
    rule group ``group`` (default: every group)."""
    out = []
    for name, rules in rule_groups().items():
        if group is not None and name != group:
            continue
        for rule in rules:
            assert _THRESHOLD.search(rule["expr"]), rule["alert"]
            out.append(_THRESHOLD.sub("", rule["expr"]))
    return out
