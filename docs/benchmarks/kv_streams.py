"""Decode-step time of one shared KV buffer against one KV stream per sequence, on the real
default model through llama.cpp, in one process with the two contexts' steps interleaved (so the
box's drift hits both alike); then, with streams, a step of four sequences whose ids are
consecutive against one whose ids are scattered, with 16 sequences (docs/architecture.md, the
llama.cpp engine).

    .venv/bin/python docs/benchmarks/kv_streams.py 16 100 128   # sequences, prompt tokens, steps
"""

import logging
import sys
import time

import llama_cpp as ll

from inferstack.models.sources import resolve_model

THREADS, CTX = 2, 2048


def context(model, n_seq, unified):
    cp = ll.llama_context_default_params()
    cp.n_seq_max, cp.kv_unified, cp.n_ctx = n_seq, unified, CTX * n_seq
    cp.n_batch = cp.n_ubatch = 512
    cp.n_threads = cp.n_threads_batch = THREADS
    cp.swa_full, cp.no_perf = True, True
    return ll.llama_init_from_model(model, cp)


def decode(ctx, batch, rows):
    """Decode ``rows`` (token, position, sequence, wants logits); seconds taken."""
    batch.n_tokens = len(rows)
    for i, (token, pos, seq, logits) in enumerate(rows):
        batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, pos, 1
        batch.seq_id[i][0], batch.logits[i] = seq, logits
    start = time.perf_counter()
    assert ll.llama_decode(ctx, batch) == 0
    ll.llama_synchronize(ctx)
    return time.perf_counter() - start


def prefill(ctx, batch, n_seq, prompt):
    for s in range(n_seq):
        rows = [(1000 + (p * 7 + s) % 5000, p, s, p == prompt - 1) for p in range(prompt)]
        decode(ctx, batch, rows)


def main():
    n_seq, prompt, steps = (int(a) for a in sys.argv[1:4])
    logging.getLogger("llama-cpp-python").setLevel(logging.WARNING)
    ll.llama_backend_init()
    model = ll.llama_model_load_from_file(
        str(resolve_model("default").path).encode(), ll.llama_model_default_params()
    )
    batch = ll.llama_batch_init(512, 0, 1)
    ctxs = {"unified": context(model, n_seq, True), "streams": context(model, n_seq, False)}
    for ctx in ctxs.values():
        prefill(ctx, batch, n_seq, prompt)
    spent = dict.fromkeys(ctxs, 0.0)
    for t in range(steps):
        order = list(ctxs.items()) if t % 2 else list(ctxs.items())[::-1]
        for name, ctx in order:
            rows = [(2000 + t + s, prompt + t, s, True) for s in range(n_seq)]
            spent[name] += decode(ctx, batch, rows)
    for name, total in spent.items():
        per_step = 1000 * total / steps
        print(f"{name:8s} {n_seq} sequences, {prompt} prompt tokens: {per_step:.1f} ms/step")
    print(f"streams / unified step time: {spent['streams'] / spent['unified']:.3f}")

    if n_seq < 16:
        return
    ctx = ctxs["streams"]
    pos = dict.fromkeys(range(n_seq), prompt + steps)
    sets = {"consecutive ids": [0, 1, 2, 3], "scattered ids": [0, 5, 10, 15]}
    spent = dict.fromkeys(sets, 0.0)
    for t in range(steps // 2):
        for name, ids in sets.items():
            rows = [(2000 + t, pos[s], s, True) for s in ids]
            for s in ids:
                pos[s] += 1
            spent[name] += decode(ctx, batch, rows)
    for name, total in spent.items():
        print(f"streams, 4 sequences, {name}: {2000 * total / steps:.1f} ms/step")


if __name__ == "__main__":
    main()
