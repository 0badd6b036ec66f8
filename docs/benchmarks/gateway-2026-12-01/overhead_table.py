"""The gateway-overhead table of docs/benchmarks.md from ``inferstack bench compare`` results.

For each level: req/s, CPU cores, req/s per core, CPU per request (ms), e2e p50 (ms, unrounded)
and the p50 added over the direct target, per target; then the gateway/LiteLLM per-core ratio.

Run: ``python docs/benchmarks/gateway-2026-12-01/overhead_table.py OUT/results.json [...]``.
"""

from __future__ import annotations

import json
import sys


def table(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    targets = data["targets"]
    direct = targets[0]["name"]
    rows = [
        "| streams | target | req/s | CPU cores | req/s per core | CPU ms / req | e2e p50 "
        "| added p50 |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    per_core: dict[tuple[float, str], float] = {}
    levels = [lv["level"] for lv in targets[0]["levels"]]
    for level in levels:
        base = None
        for t in targets:
            stats = next(lv["stats"] for lv in t["levels"] if lv["level"] == level)
            rps, cores, p50 = stats["req_per_s"], stats["cpu_cores"], stats["e2e_ms"]["p50"]
            base = p50 if t["name"] == direct else base
            per_core[(level, t["name"])] = rps / cores
            added = "—" if t["name"] == direct else f"{p50 - base:+.2f} ms"
            rows.append(
                f"| {level:g} | {t['name']} | {rps:.1f} | {cores:.2f} | {rps / cores:.0f} | "
                f"{1000 * cores / rps:.2f} | {p50:.2f} ms | {added} |"
            )
    names = [t["name"] for t in targets]
    if "gateway" in names and "litellm" in names:
        for level in levels:
            gw, ll = per_core[(level, "gateway")], per_core[(level, "litellm")]
            rows.append(
                f"\nper core at {level:g}: gateway / LiteLLM = {gw:.0f} / {ll:.1f} = {gw / ll:.1f}x"
            )
    return "\n".join(rows)


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(f"{arg}\n{table(arg)}\n")
