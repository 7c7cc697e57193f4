#!/usr/bin/env bash
# Benchmark: the gateway in front of a fast fake upstream (nginx serving fixed
# OpenAI bodies), loaded with wrk on loopback in bounded runs. Prints requests/s,
# p50/p99 latency, the latency the gateway adds, CPU time per request and RSS,
# for JSON and streaming chat completions, relayed and translated (Anthropic
# Messages clients on OpenAI accounts). Installs nginx and wrk if missing.
#
#   bench/run.sh                    # 10 s per run
#   DURATION=30 bench/run.sh
#   BENCH_TMP=/dev/shm bench/run.sh # data (database, journal) on tmpfs: no real fsync
#   PROFILE=1 bench/run.sh          # a perf profile under JSON load instead (PROFILE_CONNECTIONS, default 50)
#   BIN=/other/switchboard bench/run.sh  # measure another build (an older commit's) with this script
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null; then
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-light wrk
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

if [ -z "${BIN:-}" ]; then
  swift build -c release --product switchboard >/dev/null
  BIN="$(swift build -c release --show-bin-path)/switchboard"
fi
WORK=$(mktemp -d "${BENCH_TMP:-/tmp}/switchboard-bench.XXXXXX")
UPSTREAM_PORT=18901
GATEWAY_PORT=18900
KEY=sk-sb-bench-0123456789abcdefghijklmnopqrstuvw

cleanup() {
  [ -n "${GATEWAY_PID:-}" ] && kill "$GATEWAY_PID" 2>/dev/null || true
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  sleep 0.5
  [ -n "${KEEP_WORK:-}" ] && echo "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

# --- the fake upstream: fixed bodies, the shape and size of real answers -----
JSON_BODY='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":21,"completion_tokens":9,"total_tokens":30},"system_fingerprint":null}'
{
  printf 'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}\n\n'
  for word in Hello '!' ' How' ' can' ' I' ' help' ' you' ' today' '?'; do
    printf 'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"%s"},"finish_reason":null}],"usage":null}\n\n' "$word"
  done
  printf 'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}\n\n'
  printf 'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":21,"completion_tokens":9,"total_tokens":30}}\n\n'
  printf 'data: [DONE]\n\n'
} > "$WORK/stream.sse"
printf '%s' "$JSON_BODY" > "$WORK/chat.json"
cat > "$WORK/nginx.conf" <<NGINX
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_buffer_size 64k;
  server {
    listen 127.0.0.1:$UPSTREAM_PORT reuseport;
    location = /json/v1/chat/completions { default_type application/json; return 200 '$(cat "$WORK/chat.json")'; }
    # \$(…) drops the file's final blank line, which ends the last SSE event: put it back.
    location = /stream/v1/chat/completions { default_type text/event-stream; return 200 '$(cat "$WORK/stream.sse")

'; }
  }
}
NGINX
"$NGINX" -c "$WORK/nginx.conf" -p "$WORK" -e "$WORK/nginx-error.log"

# --- the gateway -----------------------------------------------------------
cat > "$WORK/switchboard.yaml" <<YAML
listen: 127.0.0.1:$GATEWAY_PORT
allow_private_upstreams: true
database: sqlite:$WORK/data/switchboard.db
log_level: warning
accounts:
  - name: json
    provider: openai
    base_url: http://127.0.0.1:$UPSTREAM_PORT/json/v1
    api_key: sk-upstream-bench
    models: [gpt-4o-mini]
  - name: stream
    provider: openai
    base_url: http://127.0.0.1:$UPSTREAM_PORT/stream/v1
    api_key: sk-upstream-bench
    models: [gpt-4o-mini-stream]
    model_map: {gpt-4o-mini-stream: gpt-4o-mini}
keys:
  - name: bench
    key: $KEY
YAML
(cd "$WORK" && exec "$BIN" serve --config "$WORK/switchboard.yaml" 2>"$WORK/gateway.log") &
GATEWAY_PID=$!
for _ in $(seq 1 100); do
  curl -s -o /dev/null "http://127.0.0.1:$GATEWAY_PORT/health" && break
  sleep 0.1
done
sleep 1
IDLE_RSS_KB=$(awk '/VmRSS/ {print $2}' /proc/$GATEWAY_PID/status)

# CPU time the gateway has used, in clock ticks (user + system).
cpu_ticks() { awk '{print $14 + $15}' /proc/$GATEWAY_PID/stat; }
TICKS=$(getconf CLK_TCK)

# --- load ------------------------------------------------------------------
# lua NAME BODY HEADER… → a wrk script posting BODY with the given headers.
lua() {
  local name=$1 body=$2 header
  shift 2
  {
    echo 'wrk.method = "POST"'
    echo "wrk.body = '$body'"
    echo 'wrk.headers["Content-Type"] = "application/json"'
    for header in "$@"; do echo "wrk.headers[\"${header%%:*}\"] = \"${header#*: }\""; done
  } > "$WORK/$name.lua"
}
PROMPT='"messages":[{"role":"user","content":"Say hello in one short sentence."}]'
lua json "{\"model\":\"gpt-4o-mini\",$PROMPT}" "Authorization: Bearer $KEY"
lua stream "{\"model\":\"gpt-4o-mini-stream\",\"stream\":true,$PROMPT}" "Authorization: Bearer $KEY"
# The same answers translated: Anthropic Messages clients on the OpenAI accounts.
lua messages "{\"model\":\"gpt-4o-mini\",\"max_tokens\":64,$PROMPT}" "x-api-key: $KEY" "anthropic-version: 2023-06-01"
lua messages-stream "{\"model\":\"gpt-4o-mini-stream\",\"max_tokens\":64,\"stream\":true,$PROMPT}" "x-api-key: $KEY" "anthropic-version: 2023-06-01"

# run NAME URL SCRIPT CONNECTIONS → one result line
run() {
  local name=$1 url=$2 script=$3 conns=$4 threads=1
  [ "$conns" -gt 1 ] && threads=2
  local before after out reqs rps p50 p99 cpu_us
  before=$(cpu_ticks)
  out=$(wrk -t"$threads" -c"$conns" -d"${DURATION}s" --latency -s "$script" "$url")
  after=$(cpu_ticks)
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  if [[ $url == *":$GATEWAY_PORT"* ]]; then
    cpu_us=$(awk -v t=$((after - before)) -v hz="$TICKS" -v n="$reqs" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
  else
    cpu_us="-"
  fi
  if echo "$out" | grep -q "Non-2xx"; then echo "!! $name: non-2xx responses" >&2; echo "$out" >&2; fi
  printf '%-28s %4s %10s %10s %10s %12s\n' "$name" "$conns" "$rps" "$p50" "$p99" "$cpu_us"
}

to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us$/, "", v); print v / 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v); print v } else { sub(/s$/, "", v); print v * 1000 } }'; }

UP_JSON="http://127.0.0.1:$UPSTREAM_PORT/json/v1/chat/completions"
UP_STREAM="http://127.0.0.1:$UPSTREAM_PORT/stream/v1/chat/completions"
GW="http://127.0.0.1:$GATEWAY_PORT/v1/chat/completions"
GW_MESSAGES="http://127.0.0.1:$GATEWAY_PORT/v1/messages"

# Warm up connections and caches.
wrk -t1 -c10 -d2s -s "$WORK/json.lua" "$GW" >/dev/null
wrk -t1 -c10 -d2s -s "$WORK/stream.lua" "$GW" >/dev/null

# PROFILE=1: a perf profile of the gateway under JSON load (PROFILE_CONNECTIONS, default 50) instead of the runs.
if [ -n "${PROFILE:-}" ]; then
  wrk -t1 -c"${PROFILE_CONNECTIONS:-50}" -d"$((DURATION + 2))s" -s "$WORK/json.lua" "$GW" >/dev/null &
  WRK_PID=$!
  perf record -F 999 -g -p "$GATEWAY_PID" -o "$WORK/perf.data" -- sleep "$DURATION" 2>"$WORK/perf.log" || { cat "$WORK/perf.log"; exit 1; }
  wait "$WRK_PID"
  perf report -i "$WORK/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null | grep -v '^#' | grep '%' | head -${PROFILE_LINES:-40}
  exit 0
fi

echo "Switchboard benchmark: $(nproc) cores, ${DURATION}s per run, wrk and nginx on the same machine"
printf '%-28s %4s %10s %10s %10s %12s\n' "run" "conn" "req/s" "p50" "p99" "cpu µs/req"
R1=$(run "upstream direct, JSON" "$UP_JSON" "$WORK/json.lua" 1); echo "$R1"
R2=$(run "through gateway, JSON" "$GW" "$WORK/json.lua" 1); echo "$R2"
R3=$(run "upstream direct, stream" "$UP_STREAM" "$WORK/stream.lua" 1); echo "$R3"
R4=$(run "through gateway, stream" "$GW" "$WORK/stream.lua" 1); echo "$R4"
run "upstream direct, JSON" "$UP_JSON" "$WORK/json.lua" 50
run "through gateway, JSON" "$GW" "$WORK/json.lua" 50
run "upstream direct, stream" "$UP_STREAM" "$WORK/stream.lua" 50
run "through gateway, stream" "$GW" "$WORK/stream.lua" 50
run "translated Messages→Chat, JSON" "$GW_MESSAGES" "$WORK/messages.lua" 50
run "translated Messages→Chat, stream" "$GW_MESSAGES" "$WORK/messages-stream.lua" 50

added() { awk -v a="$(to_ms "$(echo "$1" | awk '{print $(NF-2)}')")" -v b="$(to_ms "$(echo "$2" | awk '{print $(NF-2)}')")" 'BEGIN { printf "%.3f ms", a - b }'; }
echo
echo "latency the gateway adds at p50, concurrency 1: JSON $(added "$R2" "$R1"), stream $(added "$R4" "$R3")"
PEAK_RSS_KB=$(awk '/VmHWM/ {print $2}' /proc/$GATEWAY_PID/status)
echo "gateway RSS: idle $((IDLE_RSS_KB / 1024)) MB, peak $((PEAK_RSS_KB / 1024)) MB"
ROWS=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from ledger').fetchone()[0])" "$WORK/data/switchboard.db" 2>/dev/null || echo "?")
echo "ledger rows written: $ROWS"
OUTCOMES=$(python3 -c "import sqlite3,sys; print(', '.join(f'{o} {n}' for o, n in sqlite3.connect(sys.argv[1]).execute('select outcome || coalesce(\\' (\\' || error_code || \\')\\', \\'\\'), count(*) from ledger group by 1 order by 2 desc')))" "$WORK/data/switchboard.db" 2>/dev/null || echo "?")
echo "ledger outcomes: $OUTCOMES"
if grep -q "warning\|error" "$WORK/gateway.log"; then
  echo "gateway warnings (first 5):"
  grep "warning\|error" "$WORK/gateway.log" | head -5
fi
