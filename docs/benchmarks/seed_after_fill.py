"""Is a seeded sampled answer the same after other requests have filled the server's KV cache?

Runs one seeded request (temperature 0.9), then for each trial three concurrent long answers
of varied lengths (moving later sequences' KV cells), then the seeded request again, and counts
the trials whose answer differs from the first.

    python docs/benchmarks/seed_after_fill.py --url http://127.0.0.1:PORT --model gemma-3-270m

against e.g. `inferstack serve --model default --parallel 4 --ctx-size 1024 --threads 2`
(with INFERSTACK_LLAMACPP_KV_UNIFIED=false to compare one KV stream per sequence).
"""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor

import httpx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--trials", type=int, default=6)
    args = parser.parse_args()
    client = httpx.Client(timeout=600)

    def complete(prompt: str, **extra: object) -> str:
        body = {"model": args.model, "prompt": prompt, "max_tokens": 48, "temperature": 0.9,
                "seed": 7} | extra  # fmt: skip
        r = client.post(f"{args.url}/v1/completions", json=body)
        r.raise_for_status()
        return str(r.json()["choices"][0]["text"])

    def long_answer(prompt: str, tokens: int) -> str:
        return complete(prompt, max_tokens=tokens, seed=None, ignore_eos=True)

    seeded = "The history of the city of Lyon begins"
    first = complete(seeded)
    differ = 0
    for trial in range(args.trials):
        fills = [f"Write a long story number {trial}-{i} about a dragon and a"
                 + " very" * (i * 7 + trial) for i in range(3)]  # fmt: skip
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(long_answer, fills, [120 + 37 * trial] * len(fills)))
        again = complete(seeded)
        differ += again != first
        print(f"trial {trial}: {'same' if again == first else 'differs: ' + repr(again[:60])}")
    print(f"{differ} of {args.trials} seeded answers differed after the cache was filled")


if __name__ == "__main__":
    main()
