"""Write a bursty trace for `inferstack plan simulate`: 5 min at LOW req/s, 5 min at HIGH,
10 min at LOW (Poisson, seeds 0, 1, 2), every request TOKENS prompt and TOKENS output tokens.

    .venv/bin/python docs/plan/bursty_trace.py OUT.csv LOW HIGH TOKENS
"""

import sys

from inferstack.plan.workload import poisson_offsets

out, low, high, tokens = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
rows = ["arrival_s,prompt_tokens,output_tokens"]
start = 0.0
for i, (rate, seconds) in enumerate(((low, 300), (high, 300), (low, 600))):
    rows += [f"{start + t:.3f},{tokens},{tokens}" for t in poisson_offsets(rate, None, seconds, i)]
    start += seconds
with open(out, "w", encoding="utf-8") as f:
    f.write("\n".join(rows) + "\n")
