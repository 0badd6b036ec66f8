"""The PromQL the dashboards and alerts in deploy/grafana run, for the tests that check it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

GRAFANA = Path(__file__).resolve().parents[2] / "deploy" / "grafana"
RULES = GRAFANA / "alerts" / "inferstack.rules.yaml"
_THRESHOLD = re.compile(r"\s*>\s*[0-9.]+\s*$")


def dashboard_queries() -> list[str]:
    queries = []
    for path in sorted((GRAFANA / "dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            queries += [t["expr"] for t in panel["targets"]]
    return queries


def alert_queries() -> list[str]:
    """Each alert's query without its threshold (every alert is ``<query> > <number>``)."""
    rules = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    out = []
    for rule in rules:
        assert _THRESHOLD.search(rule["expr"]), rule["alert"]
        out.append(_THRESHOLD.sub("", rule["expr"]))
    return out
