"""Predicted vs measured TTFT per request, grouped by how many requests the simulated replica
held when each arrived (0: it found the replica idle). Same replay as `inferstack plan validate`
(the bench's arrivals and seed rule, each level's mean prompt and output lengths); the measured
side is the bench's per-request TTFTs (``ttft_samples_ms``, in arrival order).

    PYTHONPATH=src python docs/plan/validate_by_state.py PROFILE OPEN/results.json [--no-wake]
"""

from __future__ import annotations

import argparse
import statistics

from inferstack.plan.profiles import load_profile
from inferstack.plan.service import ServiceModel
from inferstack.plan.simulator import PoolSpec, simulate
from inferstack.plan.validate import load_bench_result
from inferstack.plan.workload import Length, poisson_offsets, synthetic_requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile")
    parser.add_argument("results")
    parser.add_argument("--no-wake", action="store_true", help="drop the profile's wake_ms")
    args = parser.parse_args()
    profile = load_profile(args.profile)
    if args.no_wake:
        profile = profile.model_copy(update={"wake_ms": None})
    result = load_bench_result(args.results)
    cfg, model = result["config"], ServiceModel(profile)
    print("| rate req/s | in flight at arrival | n | TTFT p50 ms meas. / pred. | mean error ms |")
    print("|---:|---:|---:|---:|---:|")
    for level in result["targets"][0]["levels"]:
        rate, st = float(level["level"]), level["stats"]
        if st["succeeded"] != st["requests"]:
            continue  # the samples would not line up with the arrivals
        seed = int(cfg["seed"]) + int(rate * 1000)
        offsets = poisson_offsets(rate, cfg["requests_per_level"], cfg["duration_s"], seed)
        prompt = Length(kind="fixed", a=st["mean_prompt_tokens"] or 1)
        output = Length(kind="fixed", a=st["mean_output_tokens"] or 1)
        reqs = synthetic_requests(offsets[: st["requests"]], prompt, output, seed)
        rec = simulate(model, PoolSpec(replicas=1), reqs).recorder
        groups: dict[int, list[tuple[float, float]]] = {}
        for i, req in enumerate(reqs):
            held = sum(1 for j in range(i) if rec.finish[j] > req.arrival)
            pred = (rec.first_token[i] - req.arrival) * 1000
            groups.setdefault(min(held, 3), []).append((st["ttft_samples_ms"][i], pred))
        for held, pairs in sorted(groups.items()):
            meas = statistics.median(m for m, _ in pairs)
            pred = statistics.median(p for _, p in pairs)
            err = statistics.mean(p - m for m, p in pairs)
            label = f"{held}+" if held == 3 else str(held)
            print(f"| {rate:g} | {label} | {len(pairs)} | {meas:.1f} / {pred:.1f} | {err:+.1f} |")


if __name__ == "__main__":
    main()
