#!/usr/bin/env bash
# Tracing on vs off, through gateway + model server: p50 latency at concurrency 1 and
# throughput at 16. Two identical stacks (gateway → `inferstack serve`), one exporting every
# span of both processes to a local Phoenix, one with tracing off; `inferstack bench compare`
# interleaves them level by level, so the shared machine's drift hits both alike.
#   bash docs/benchmarks/tracing-overhead.sh [OUTPUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=.venv/bin/python
OUT=${1:-bench-results/tracing}
WORK=$(mktemp -d)
port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
wait_up() { for _ in $(seq 1 600); do curl -sf "$1" >/dev/null && return 0; sleep 1; done; echo "no answer from $1"; exit 1; }

PHOENIX=$(port)
PHOENIX_HOST=127.0.0.1 PHOENIX_PORT=$PHOENIX PHOENIX_WORKING_DIR=$WORK/phoenix \
  PHOENIX_TELEMETRY_ENABLED=false PHOENIX_ALLOW_EXTERNAL_RESOURCES=false \
  $PY -m inferstack.cli.phoenix_serve >"$WORK/phoenix.log" 2>&1 & pids+=($!)
wait_up "http://127.0.0.1:$PHOENIX/healthz"

export INFERSTACK_GATEWAY_MASTER_KEY="sk-bench-$(openssl rand -hex 12)"
for mode in off on; do
  if [ "$mode" = on ]; then
    export INFERSTACK_TELEMETRY_EXPORTER=phoenix INFERSTACK_TELEMETRY_PHOENIX_URL="http://127.0.0.1:$PHOENIX"
  else
    export INFERSTACK_TELEMETRY_EXPORTER=none
  fi
  SERVER=$(port); GATEWAY=$(port)
  $PY -m inferstack.cli.main serve --model default --parallel 16 --ctx-size 1024 --threads 2 \
    --port "$SERVER" >"$WORK/server-$mode.log" 2>&1 & pids+=($!)
  wait_up "http://127.0.0.1:$SERVER/ready"
  printf 'model_groups:\n  gemma-3-270m:\n    deployments:\n      - api_base: http://127.0.0.1:%s/v1\n' \
    "$SERVER" >"$WORK/gateway-$mode.yaml"
  mkdir -p "$WORK/gw-$mode"
  $PY -m inferstack.cli.main gateway --config "$WORK/gateway-$mode.yaml" --port "$GATEWAY" \
    --state-dir "$WORK/gw-$mode" >"$WORK/gateway-$mode.log" 2>&1 & pids+=($!)
  wait_up "http://127.0.0.1:$GATEWAY/ready"
  declare "URL_$mode=http://127.0.0.1:$GATEWAY"
done
unset INFERSTACK_TELEMETRY_EXPORTER INFERSTACK_TELEMETRY_PHOENIX_URL

.venv/bin/inferstack --log-level WARNING bench compare \
  "tracing-off=$URL_off" "tracing-on=$URL_on" --api-key "$INFERSTACK_GATEWAY_MASTER_KEY" \
  --model gemma-3-270m --endpoint chat --concurrency 1,16 --requests 48 --warmup 4 \
  --max-tokens 32 --temperature 0 --min-gain 0 --max-error-rate 0 --no-plots --output "$OUT"
# Every traced request reached Phoenix: count the server's decode spans there.
curl -s "http://127.0.0.1:$PHOENIX/v1/projects/inferstack/spans/otlpv1?name=decode&limit=1000" |
  $PY -c 'import json, sys; print("decode spans in Phoenix:", len(json.load(sys.stdin)["data"]))'
