"""Does a request that meets an idle server wait longer for its first token than one that
follows another at once? (The planner's open-loop validation found TTFT about 15 ms above
its prediction at the lightest rate; an idle server's first step was one suspect.)

For each of N prompts: one request to make the server busy, one right after it ("hot"), then
a pause and one more ("idle"); prints the TTFT p50 of both and their ratio.

    python docs/benchmarks/idle_ttft.py --url http://127.0.0.1:PORT --model gemma-3-270m -n 15

against e.g. `inferstack serve --model default --parallel 8 --ctx-size 1024 --threads 1`
(the planner's measure.sh settings).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import httpx


def ttft_ms(client: httpx.Client, url: str, model: str, prompt: str) -> float:
    body = {"model": model, "prompt": prompt, "max_tokens": 8, "stream": True,
            "ignore_eos": True, "temperature": 0}  # fmt: skip
    started = time.perf_counter()
    with client.stream("POST", f"{url}/v1/completions", json=body) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if line.startswith("data: {") and json.loads(line[6:])["choices"][0]["text"]:
                return (time.perf_counter() - started) * 1000
    raise RuntimeError("the stream ended without text")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("-n", type=int, default=15)
    parser.add_argument("--pause", type=float, default=1.5, help="seconds idle before 'idle'")
    args = parser.parse_args()
    hot, idle = [], []
    with httpx.Client(timeout=300) as client:
        for i in range(args.n):
            prompt = f"Question {i}: tell me about the number {i * 7919 % 1000} and its properties."
            ttft_ms(client, args.url, args.model, prompt + " warm")
            hot.append(ttft_ms(client, args.url, args.model, prompt + " hot"))
            time.sleep(args.pause)
            idle.append(ttft_ms(client, args.url, args.model, prompt + " idle"))
    h, i = statistics.median(hot), statistics.median(idle)
    print(f"TTFT p50 hot {h:.1f} ms, idle {i:.1f} ms, idle/hot {i / h:.2f} (n={args.n})")


if __name__ == "__main__":
    main()
