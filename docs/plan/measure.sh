#!/usr/bin/env bash
# Measure the default model on this machine for `inferstack plan`: a closed-loop profile
# (concurrency 1, 2, 4, 8) and three open-loop Poisson rates, then compare what the simulator
# predicts from the profile with what the open-loop run measured. The rates are 30 %, 60 % and
# 90 % of the request rate the profile's best level served, unless RATES is given, so the run
# stays bounded however busy the machine is.
#
#   bash docs/plan/measure.sh [OUT_DIR] [RATES]     (default: plan-measure)
#
# Environment: MODEL (a `serve --model` spec, default: default), NAME and PARAMS_B (of the
# profile), REPEAT (1: measure the closed loop again afterwards and validate against the
# mean of both), THREADS (1: on a shared machine two threads wait on each other), TOKENS (32 per
# answer), REQUESTS (8 per closed-loop level, 3x that per rate), WAKE_PAUSE and WAKE_ROUNDS (the
# idle-wake measurement: 1 s, 12 rounds). On a Graviton instance, e.g.
#   MODEL=/models/Llama-3.2-1B-Q4_K_M.gguf NAME=llama3.2-1b-q4km-c8g.xlarge PARAMS_B=1.2 \
#     THREADS=4 bash docs/plan/measure.sh out-1b
set -euo pipefail
OUT=${1:-plan-measure}
RATES=${2:-}
MODEL=${MODEL:-default}
NAME=${NAME:-gemma3-270m-q4km-inferstack-local}
PARAMS_B=${PARAMS_B:-0.27}
TOKENS=${TOKENS:-32}
REQUESTS=${REQUESTS:-8}
THREADS=${THREADS:-1}
BIN=${BIN:-.venv/bin/inferstack}
mkdir -p "$OUT"
PORT=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BIN" serve --model "$MODEL" --port "$PORT" --threads "$THREADS" --parallel 8 >"$OUT/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null && break
  kill -0 $SERVER || { cat "$OUT/serve.log"; exit 1; }
  sleep 0.5
done
COMMON=(--url "http://127.0.0.1:$PORT" --endpoint completions --ignore-eos --max-tokens "$TOKENS"
        --min-gain 0 --max-error-rate 1 --no-plots --seed 0)
"$BIN" bench "${COMMON[@]}" --concurrency 1,2,4,8 --requests "$REQUESTS" --output "$OUT/closed" \
  --profile "$OUT/profile.yaml" \
  --profile-field "name=$NAME" \
  --profile-field "params_b=$PARAMS_B" --profile-field quantization=Q4_K_M \
  --profile-field "engine=inferstack (llama.cpp)" --profile-field "threads=$THREADS" \
  --profile-field parallel=8
# The closed loop never lets the server idle (the next request follows within milliseconds);
# open-loop arrivals mostly find it idle. Measure what waking it costs (the same prompt right
# after another request and after WAKE_PAUSE seconds idle, interleaved) into the profile.
.venv/bin/python docs/plan/ttft_probe.py "$OUT/wake.json" --url "http://127.0.0.1:$PORT" \
  --no-closed --idle-sweep "0,${WAKE_PAUSE:-1}" --closed "${WAKE_ROUNDS:-12}" --tokens "$TOKENS" \
  --profile "$OUT/profile.yaml" | tee "$OUT/wake.txt"
if [ -z "$RATES" ]; then
  RATES=$(.venv/bin/python -c "
import yaml, sys
p = yaml.safe_load(open('$OUT/profile.yaml'))
peak = max(pt['decode_tok_per_s'] for pt in p['points']) / $TOKENS
print(','.join(f'{f * peak:.3g}' for f in (0.3, 0.6, 0.9)))")
fi
echo "open-loop rates: $RATES req/s"
"$BIN" bench "${COMMON[@]}" --rate "$RATES" --requests "$((REQUESTS * 3))" --warmup 2 --output "$OUT/open"
PROFILE="$OUT/profile.yaml"
if [ -n "${REPEAT:-}" ]; then
  # Drift guard on a shared machine: measure the closed loop again after the open-loop run and
  # validate against the mean of the two profiles (per level: mean tok/s, ITL, TTFT; and the
  # wake-up, measured again after it).
  "$BIN" bench "${COMMON[@]}" --concurrency 1,2,4,8 --requests "$REQUESTS" \
    --output "$OUT/closed-after" --profile "$OUT/profile-after.yaml" \
    --profile-field "name=$NAME" --profile-field "params_b=$PARAMS_B" \
    --profile-field "threads=$THREADS" --profile-field parallel=8
  .venv/bin/python docs/plan/ttft_probe.py "$OUT/wake-after.json" --url "http://127.0.0.1:$PORT" \
    --no-closed --idle-sweep "0,${WAKE_PAUSE:-1}" --closed "${WAKE_ROUNDS:-12}" \
    --tokens "$TOKENS" --profile "$OUT/profile-after.yaml" | tee "$OUT/wake-after.txt"
  .venv/bin/python - "$OUT" <<'PY'
import sys
from inferstack.plan.profiles import load_profile, save_profile
out = sys.argv[1]
a, b = load_profile(f"{out}/profile.yaml"), load_profile(f"{out}/profile-after.yaml")
after = {p.concurrency: p for p in b.points}
points = []
for p in a.points:
    q = after[p.concurrency]
    mean = lambda x, y: None if x is None or y is None else (x + y) / 2
    points.append(p.model_copy(update={k: mean(getattr(p, k), getattr(q, k)) for k in (
        "decode_tok_per_s", "itl_ms", "ttft_ms", "prefill_tok_per_s")}))
wake = {k: mean(getattr(a, k), getattr(b, k)) for k in ("wake_ms", "wake_pause_s")}
src = a.source.model_copy(update={"notes": a.source.notes + " Mean of the closed loop before "
                                  "and after the open-loop run (REPEAT=1)."})
save_profile(a.model_copy(update={"points": points, "source": src, **wake}),
             f"{out}/profile-mean.yaml")
PY
  PROFILE="$OUT/profile-mean.yaml"
fi
"$BIN" plan validate --profile "$PROFILE" --bench "$OUT/open/results.json" \
  --json "$OUT/validate.json" | tee "$OUT/validate.md"
