"""Writing everything a run produces into one folder."""

from __future__ import annotations

import logging
from pathlib import Path

from inferstack.bench.plots import write_plots
from inferstack.bench.report import markdown_report, write_json
from inferstack.bench.results import BenchResult

__all__ = ["write_outputs"]

log = logging.getLogger(__name__)


def write_outputs(result: BenchResult, out_dir: Path, plots: bool = True) -> list[str]:
    """Write ``results.json``, the PNG plots and ``report.md``; return the file names."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(result, out_dir / "results.json")
    pngs = write_plots(result, out_dir) if plots and any(t.levels for t in result.targets) else []
    (out_dir / "report.md").write_text(markdown_report(result, pngs), encoding="utf-8")
    return ["results.json", "report.md", *pngs]
