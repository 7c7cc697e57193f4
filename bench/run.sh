#!/usr/bin/env bash
# Benchmark: the gateway in front of a fast fake upstream (nginx serving fixed
# OpenAI bodies), beside nginx as a plain reverse proxy (keep-alive upstream,
# buffering off) in front of the same fake: the practical ceiling of any proxy
# on this machine, and a bare SwiftNIO proxy (bench/NIOFloor): the floor under
# anything built on SwiftNIO here. Loaded with wrk on loopback in bounded runs. Prints
# requests/s, p50/p99 latency, the latency each proxy adds, CPU time per request
# and RSS, for JSON and streaming chat completions, relayed and translated
# (Anthropic Messages clients on OpenAI accounts), and the gateway's figures as
# a ratio to nginx's and to the SwiftNIO floor's. Installs nginx and wrk if missing.
#
#   bench/run.sh                    # 10 s per run
#   DURATION=30 bench/run.sh
#   bench/run.sh --compare          # and the change against bench/baseline.json
#   bench/run.sh --save             # and write this run's figures to bench/baseline.json
#   CURVE=1 bench/run.sh            # throughput and p99 at c = 1, 10, 50, 200, 1000 instead
#   SLOW_READER=1 bench/run.sh      # a 100 MB streamed answer read at 20 MB/s: the gateway's memory instead
#   IDLE_CONNECTIONS=1000 bench/run.sh  # that many keep-alive clients, each after one request, left idle: memory instead
#   BENCH_TMP=/dev/shm bench/run.sh # data (database, journal) on tmpfs: no real fsync
#   PROFILE=1 bench/run.sh          # a perf profile under JSON load instead (PROFILE_CONNECTIONS, default 50)
#   ALLOCS=1 bench/run.sh           # heap allocations (malloc calls) per request, JSON and stream, instead (needs perf and root)
#   LINK_ORDER=1 bench/run.sh       # the gateway under Valgrind's callgrind: writes scripts/link-order.txt (see scripts/build) instead
#   LOADED=1 bench/run.sh           # the same runs with 10,000 more keys and 1,000 more accounts configured
#   LONG_STREAMS=100 bench/run.sh   # that many 2-minute streams at once (an event a second, from fake-upstream): memory and CPU per stream instead
#   BIN=/other/switchboard bench/run.sh  # measure another build (an older commit's) with this script
#   FLOOR_BIN=/other/nio-floor bench/run.sh  # that SwiftNIO floor binary instead of building bench/NIOFloor
#   LOG_LEVEL=info LOG_FORMAT=json bench/run.sh  # with an access line per request (to a file), as JSON (default: warnings only)
#   bench/otlp_sink.py 4318 & SWITCHBOARD_OTLP_ENDPOINT=http://127.0.0.1:4318 bench/run.sh  # with tracing on
#   KEEP_WORK=1 bench/run.sh        # keep the work directory (the gateway's log, its database) and print where
#   DATABASE=postgres://…/empty_db bench/run.sh   # the gateway on PostgreSQL (an empty database) instead of SQLite
#   KEY_SETTINGS='concurrency: 1000' bench/run.sh  # a setting on the bench key (one of the limits replicas share on PostgreSQL)
#   REPLICAS=2 DATABASE=postgres://…/empty_db bench/run.sh  # that many replicas behind an nginx balancer against one, instead
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
MODE=${1:-}
case "$MODE" in ""|--compare|--save) ;; *) echo "usage: bench/run.sh [--compare|--save]" >&2; exit 2 ;; esac
BASELINE=bench/baseline.json
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null; then
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-light wrk
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

if [ -z "${BIN:-}" ]; then
  # What ships (scripts/build, as scripts/package): the Swift runtime and Foundation linked in, the code laid out.
  BIN=$(scripts/build | tail -1)
fi
WORK=$(mktemp -d "${BENCH_TMP:-/tmp}/switchboard-bench.XXXXXX")
UPSTREAM_PORT=18901
GATEWAY_PORT=18900
PROXY_PORT=18902
FLOOR_PORT=18905
KEY=sk-sb-bench-0123456789abcdefghijklmnopqrstuvw

BALANCER_PORT=18903
cleanup() {
  [ -n "${GATEWAY_PID:-}" ] && kill "$GATEWAY_PID" 2>/dev/null || true
  [ -n "${FAKE_PID:-}" ] && kill "$FAKE_PID" 2>/dev/null || true
  [ -n "${FLOOR_PID:-}" ] && kill "$FLOOR_PID" 2>/dev/null || true
  for pid in ${REPLICA_PIDS:-}; do kill "$pid" 2>/dev/null || true; done
  [ -f "$WORK/balancer.pid" ] && kill "$(cat "$WORK/balancer.pid")" 2>/dev/null || true
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  [ -f "$WORK/proxy.pid" ] && kill "$(cat "$WORK/proxy.pid")" 2>/dev/null || true
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
    # A long answer from a file (a POST to a file is 405; its error page serves the file).
    location = /big/v1/chat/completions { default_type text/event-stream; error_page 405 =200 /big.sse; return 405; }
    location = /big.sse { root $WORK; default_type text/event-stream; }
    # \$(…) drops the file's final blank line, which ends the last SSE event: put it back.
    location = /stream/v1/chat/completions { default_type text/event-stream; return 200 '$(cat "$WORK/stream.sse")

'; }
  }
}
NGINX
"$NGINX" -c "$WORK/nginx.conf" -p "$WORK" -e "$WORK/nginx-error.log"

# --- nginx as a plain reverse proxy in front of the same fake: the yardstick ---
# As many workers as the gateway has event loops (one per core).
cat > "$WORK/proxy.conf" <<NGINX
worker_processes $(nproc);
pid $WORK/proxy.pid;
error_log $WORK/proxy-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream fake { server 127.0.0.1:$UPSTREAM_PORT; keepalive 256; }
  server {
    listen 127.0.0.1:$PROXY_PORT;
    location / {
      proxy_pass http://fake;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
NGINX
"$NGINX" -c "$WORK/proxy.conf" -p "$WORK" -e "$WORK/proxy-error.log"

# --- the SwiftNIO floor: NIOHTTP1 on both sides, nothing else (bench/NIOFloor) --
# Built and started for the standard runs only, the one mode that measures it.
start_floor() {
  if [ -z "${FLOOR_BIN:-}" ]; then
    swift build -c release --product nio-floor --static-swift-stdlib >/dev/null
    FLOOR_BIN="$(swift build -c release --static-swift-stdlib --show-bin-path)/nio-floor"
  fi
  "$FLOOR_BIN" "$FLOOR_PORT" "$UPSTREAM_PORT" &
  FLOOR_PID=$!
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$FLOOR_PORT/json/v1/chat/completions" && break; sleep 0.1; done
  wrk -t1 -c10 -d2s -s "$WORK/json.lua" "$FL_JSON" >/dev/null
}

# --- the gateway -----------------------------------------------------------
cat > "$WORK/switchboard.yaml" <<YAML
listen: 127.0.0.1:$GATEWAY_PORT
allow_private_upstreams: true
database: ${DATABASE:-sqlite:$WORK/data/switchboard.db}
data_dir: $WORK/data
log_level: ${LOG_LEVEL:-warning}
log_format: ${LOG_FORMAT:-text}
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
  - name: big
    provider: openai
    base_url: http://127.0.0.1:$UPSTREAM_PORT/big/v1
    api_key: sk-upstream-bench
    models: [gpt-4o-mini-big]
    model_map: {gpt-4o-mini-big: gpt-4o-mini}
keys:
  - name: bench
    key: $KEY
${KEY_SETTINGS:+    $KEY_SETTINGS}
YAML
# LONG_STREAMS=N: the fake-upstream binary (FAKE_BIN, else built beside the gateway) serves
# 2-minute streams, an event a second, to an account of their own.
if [ -n "${LONG_STREAMS:-}" ]; then
  # Built from this tree unless named: an older binary would not know the long-stream model.
  if [ -z "${FAKE_BIN:-}" ]; then
    swift build -c release --product fake-upstream --static-swift-stdlib >/dev/null
    FAKE_BIN="$(swift build -c release --static-swift-stdlib --show-bin-path)/fake-upstream"
  fi
  "$FAKE_BIN" 18904 sk-upstream-bench > "$WORK/fake.log" 2>&1 &
  FAKE_PID=$!
  for _ in $(seq 1 100); do grep -q listening "$WORK/fake.log" && break; sleep 0.1; done
  grep -q listening "$WORK/fake.log" || { echo "fake-upstream did not start:" >&2; cat "$WORK/fake.log" >&2; exit 1; }
  python3 - "$WORK/switchboard.yaml" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
account = ("  - name: long\n    provider: openai\n    base_url: http://127.0.0.1:18904/v1\n"
           "    api_key: sk-upstream-bench\n    models: [long-stream]\n")
open(path, "w").write(text.replace("accounts:\n", "accounts:\n" + account, 1))
PY
fi
# LOADED=1: 1,000 more accounts (20 for each of 50 other models) and 10,000 more keys, each
# with limits of its own, so that a request's selection and admission run beside a directory of
# that size (they should cost the same as with one key and three accounts).
if [ -n "${LOADED:-}" ]; then
  python3 - "$WORK/switchboard.yaml" "$UPSTREAM_PORT" <<'PY'
import sys
path, port = sys.argv[1], sys.argv[2]
text = open(path).read()
accounts = "".join(
    f"  - name: bulk-{i}\n    provider: openai\n    base_url: http://127.0.0.1:{port}/json/v1\n"
    f"    api_key: sk-upstream-bulk-{i}\n    models: [bulk-model-{i % 50}]\n    max_concurrency: 100\n"
    for i in range(1000))
keys = "".join(
    f"  - name: bulk-{i}\n    key: sk-sb-bulk-{i:06d}-0123456789abcdefghijklmnopqrst\n"
    f"    concurrency: 10\n    daily_cost_usd: 5\n    models: [bulk-model-{i % 50}]\n"
    for i in range(10000))
text = text.replace("accounts:\n", "accounts:\n" + accounts, 1).replace("keys:\n", "keys:\n" + keys, 1)
open(path, "w").write(text)
PY
fi
# LINK_ORDER=1: the gateway runs under Valgrind's callgrind, which lists every
# function it runs, to write scripts/link-order.txt (see scripts/build) instead of the runs.
RUNNER=()
if [ -n "${LINK_ORDER:-}" ]; then
  if ! command -v valgrind >/dev/null; then
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q valgrind
  fi
  # Valgrind 3.19 cannot read the DWARF 5 this toolchain writes: a copy without it (symbols kept).
  strip --strip-debug -o "$WORK/switchboard" "$BIN"
  BIN="$WORK/switchboard"
  RUNNER=(valgrind -q --tool=callgrind --demangle=no --callgrind-out-file="$WORK/callgrind.out")
fi
(cd "$WORK" && exec "${RUNNER[@]}" "$BIN" serve --config "$WORK/switchboard.yaml" 2>"$WORK/gateway.log") &
GATEWAY_PID=$!
for _ in $(seq 1 600); do
  curl -s -o /dev/null "http://127.0.0.1:$GATEWAY_PORT/health" && break
  sleep 0.1
done
sleep 1

if [ -n "${LINK_ORDER:-}" ]; then
  callgrind_control -d started "$GATEWAY_PID" >/dev/null 2>&1  # → callgrind.out.1: starting, and /health
  chat() { curl -s -o /dev/null -w '%{http_code} ' "http://127.0.0.1:$GATEWAY_PORT$1" -H "Content-Type: application/json" "${@:2}"; }
  for _ in 1 2 3; do
    chat /v1/chat/completions -H "Authorization: Bearer $KEY" -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
    chat /v1/chat/completions -H "Authorization: Bearer $KEY" -d '{"model":"gpt-4o-mini-stream","stream":true,"messages":[{"role":"user","content":"hi"}]}'
    chat /v1/messages -H "x-api-key: $KEY" -H "anthropic-version: 2023-06-01" -d '{"model":"gpt-4o-mini","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}'
    chat /v1/messages -H "x-api-key: $KEY" -H "anthropic-version: 2023-06-01" -d '{"model":"gpt-4o-mini-stream","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}'
    chat /v1/chat/completions -H "Authorization: Bearer sk-sb-not-a-key" -d '{"model":"gpt-4o-mini","messages":[]}'
    chat /v1/chat/completions -H "Authorization: Bearer $KEY" -d '{"model":"gpt-4o-mini",'
    chat /health
  done
  echo
  callgrind_control -d serving "$GATEWAY_PID" >/dev/null 2>&1  # → callgrind.out.2: serving
  nm --defined-only "$BIN" | awk '$2 ~ /^[tTwW]$/ {print $3}' > "$WORK/symbols.txt"
  python3 - "$WORK/callgrind.out.1" "$WORK/callgrind.out.2" "$WORK/symbols.txt" scripts/link-order.txt <<'PY'
import re, sys
started_path, serving_path, symbols_path, out_path = sys.argv[1:]
symbols = set(open(symbols_path).read().split())
def functions(path):
    # "fn=(id) name" names a function the first time; later "fn=(id)" alone. Recursion adds "'2".
    names, ran = {}, set()
    for line in open(path, errors="replace"):
        match = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
        if not match:
            continue
        kind, number, name = match.groups()
        if name:
            names[number] = re.sub(r"'\d+$", "", name)
        if kind == "fn" and names.get(number) in symbols:
            ran.add(names[number])
    return ran
serving = functions(serving_path)
started = functions(started_path) - serving
with open(out_path, "w") as out:
    for name in sorted(serving) + sorted(started):
        out.write(name + "\n")
print(f"{out_path}: {len(serving)} functions run while serving, then {len(started)} more run while starting")
PY
  exit 0
fi
IDLE_RSS_KB=$(awk '/VmRSS/ {print $2}' /proc/$GATEWAY_PID/status)

# REPLICAS=N: N-1 more gateways on the same PostgreSQL database (the first one's
# master key, a data directory each), and nginx balancing over all N.
REPLICA_PIDS=""
if [ -n "${REPLICAS:-}" ]; then
  [[ "${DATABASE:-}" == postgres* ]] || { echo "REPLICAS needs DATABASE=postgres://…" >&2; exit 2; }
  servers="server 127.0.0.1:$GATEWAY_PORT;"
  for index in $(seq 2 "$REPLICAS"); do
    port=$((GATEWAY_PORT + 10 + index))
    (cd "$WORK" && SWITCHBOARD_MASTER_KEY="$(cat "$WORK/data/master.key")" SWITCHBOARD_DATA_DIR="$WORK/data-$index" \
      exec "$BIN" serve --config "$WORK/switchboard.yaml" --listen "127.0.0.1:$port" 2>"$WORK/gateway-$index.log") &
    REPLICA_PIDS="$REPLICA_PIDS $!"
    servers="$servers server 127.0.0.1:$port;"
    for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/health" && break; sleep 0.1; done
  done
  cat > "$WORK/balancer.conf" <<NGINX
worker_processes 1;
pid $WORK/balancer.pid;
error_log $WORK/balancer-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream replicas { $servers keepalive 256; }
  server {
    listen 127.0.0.1:$BALANCER_PORT;
    location / { proxy_pass http://replicas; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; }
  }
}
NGINX
  "$NGINX" -c "$WORK/balancer.conf" -p "$WORK" -e "$WORK/balancer-error.log"
fi

# CPU time the gateway (or the nginx proxy's workers) has used, in clock ticks (user + system).
proxy_pids() { pgrep -P "$(cat "$WORK/proxy.pid")" | tr '\n' ' '; }
cpu_ticks() {
  local pid total=0
  for pid in "$@"; do total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat"))); done
  echo "$total"
}
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

# run NAME URL SCRIPT CONNECTIONS → one result line (and a line in the results file)
run() {
  local name=$1 url=$2 script=$3 conns=$4 threads=1 pids=""
  [ "$conns" -gt 1 ] && threads=2
  [[ $url == *":$GATEWAY_PORT"* ]] && pids=$GATEWAY_PID
  [[ $url == *":$PROXY_PORT"* ]] && pids=$(proxy_pids)
  [[ $url == *":$FLOOR_PORT"* ]] && pids=$FLOOR_PID
  [[ $url == *":$BALANCER_PORT"* ]] && pids="$GATEWAY_PID $REPLICA_PIDS $(pgrep -P "$(cat "$WORK/balancer.pid")" | tr '\n' ' ')"
  local before after out reqs rps p50 p99 cpu_us=-
  [ -n "$pids" ] && before=$(cpu_ticks $pids)
  out=$(wrk -t"$threads" -c"$conns" -d"${DURATION}s" --latency -s "$script" "$url")
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  if [ -n "$pids" ]; then
    after=$(cpu_ticks $pids)
    cpu_us=$(awk -v t=$((after - before)) -v hz="$TICKS" -v n="$reqs" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
  fi
  if echo "$out" | grep -q "Non-2xx\|Socket errors"; then echo "!! $name: errors" >&2; echo "$out" | grep "Non-2xx\|Socket errors" >&2; fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$conns" "$rps" "$(to_ms "$p50")" "$(to_ms "$p99")" "$cpu_us" >> "$WORK/results.tsv"
  printf '%-32s %5s %10s %10s %10s %12s\n' "$name" "$conns" "$rps" "$p50" "$p99" "$cpu_us"
}

to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us$/, "", v); print v / 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v); print v } else { sub(/s$/, "", v); print v * 1000 } }'; }

UP_JSON="http://127.0.0.1:$UPSTREAM_PORT/json/v1/chat/completions"
UP_STREAM="http://127.0.0.1:$UPSTREAM_PORT/stream/v1/chat/completions"
GW="http://127.0.0.1:$GATEWAY_PORT/v1/chat/completions"
GW_MESSAGES="http://127.0.0.1:$GATEWAY_PORT/v1/messages"
PX_JSON="http://127.0.0.1:$PROXY_PORT/json/v1/chat/completions"
PX_STREAM="http://127.0.0.1:$PROXY_PORT/stream/v1/chat/completions"
FL_JSON="http://127.0.0.1:$FLOOR_PORT/json/v1/chat/completions"
FL_STREAM="http://127.0.0.1:$FLOOR_PORT/stream/v1/chat/completions"

# Warm up connections and caches.
wrk -t1 -c10 -d2s -s "$WORK/json.lua" "$GW" >/dev/null
wrk -t1 -c10 -d2s -s "$WORK/stream.lua" "$GW" >/dev/null
wrk -t1 -c10 -d2s -s "$WORK/json.lua" "$PX_JSON" >/dev/null

# PROFILE=1: a perf profile of the gateway under JSON load (PROFILE_CONNECTIONS, default 50) instead of the runs.
# SLOW_READER=1: one 100 MB streamed answer read by a client at 20 MB/s; the
# gateway's memory must stay flat (backpressure reaches the upstream read).
if [ -n "${SLOW_READER:-}" ]; then
  python3 - "$WORK/big.sse" <<'PY'
import sys
chunk = 'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"%s"},"finish_reason":null}]}\n\n' % ("x" * 900)
with open(sys.argv[1], "w") as f:
    for _ in range(100 * 1024 * 1024 // len(chunk)):
        f.write(chunk)
    f.write('data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":21,"completion_tokens":25000000,"total_tokens":25000021}}\n\ndata: [DONE]\n\n')
PY
  chmod 755 "$WORK" && chmod 644 "$WORK/big.sse"  # nginx's workers read it as another user
  before_kb=$(awk '/VmRSS/ {print $2}' /proc/$GATEWAY_PID/status)
  peak_kb=$before_kb
  curl -s -N --limit-rate 20M -o "$WORK/big.out" -w '%{size_download} %{time_total}\n' "$GW" -H "Authorization: Bearer $KEY" \
    -H "Content-Type: application/json" -d "{\"model\":\"gpt-4o-mini-big\",\"stream\":true,$PROMPT}" > "$WORK/big.result" &
  CURL_PID=$!
  while kill -0 "$CURL_PID" 2>/dev/null; do
    now_kb=$(awk '/VmRSS/ {print $2}' /proc/$GATEWAY_PID/status)
    [ "$now_kb" -gt "$peak_kb" ] && peak_kb=$now_kb
    sleep 0.2
  done
  read -r bytes seconds < "$WORK/big.result"
  echo "100 MB streamed answer to a client reading at 20 MB/s: $((bytes / 1048576)) MB in ${seconds}s"
  echo "gateway RSS: $((before_kb / 1024)) MB before, at most $((peak_kb / 1024)) MB while streaming (+$(((peak_kb - before_kb) / 1024)) MB)"
  tail -c 200 "$WORK/big.out" | grep -q '\[DONE\]' && echo "the answer ended with [DONE]" || echo "!! the answer did not end with [DONE]"
  exit 0
fi

# IDLE_CONNECTIONS=N: N clients each make one request on a keep-alive
# connection and then hold it open, idle; the gateway's memory with them.
if [ -n "${IDLE_CONNECTIONS:-}" ]; then
  ulimit -n 65536 2>/dev/null || true
  before_kb=$(awk '/VmRSS/ {print $2}' /proc/$GATEWAY_PID/status)
  python3 - "$GATEWAY_PORT" "$KEY" "$IDLE_CONNECTIONS" "$GATEWAY_PID" <<'PY'
import socket, sys
port, key, count, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
body = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello in one short sentence."}]}'
request = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer " + key.encode()
           + b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
sockets, answered = [], 0
for _ in range(count):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk: break
        data += chunk
    answered += data.startswith(b"HTTP/1.1 200")
    sockets.append(s)  # kept open, idle (the rest of the answer stays unread in the socket)
rss = next(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS"))
print(f"{count} keep-alive connections, {answered} answered with 200, now idle: gateway RSS {rss // 1024} MB")
PY
  echo "gateway RSS before them: $((before_kb / 1024)) MB"
  exit 0
fi

# LONG_STREAMS=N: N clients each read one 2-minute stream, all at once; the
# gateway's memory and CPU sampled every 5 s while they run.
if [ -n "${LONG_STREAMS:-}" ]; then
  before_kb=$(awk '/VmRSS/ {print $2}' /proc/$GATEWAY_PID/status)
  peak_kb=$before_kb
  start_ticks=$(cpu_ticks "$GATEWAY_PID")
  started=$(date +%s)
  pids=""
  for index in $(seq 1 "$LONG_STREAMS"); do
    curl -s -N -o "$WORK/long-$index.out" --max-time 200 "$GW" -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \
      -d "{\"model\":\"long-stream\",\"stream\":true,$PROMPT}" &
    pids="$pids $!"
  done
  any_running() { local pid; for pid in $pids; do kill -0 "$pid" 2>/dev/null && return 0; done; return 1; }
  while any_running; do
    now_kb=$(awk '/VmRSS/ {print $2}' /proc/$GATEWAY_PID/status)
    [ "$now_kb" -gt "$peak_kb" ] && peak_kb=$now_kb
    sleep 5
  done
  seconds=$(($(date +%s) - started))
  ticks=$(($(cpu_ticks "$GATEWAY_PID") - start_ticks))
  complete=$( (grep -l '\[DONE\]' "$WORK"/long-*.out 2>/dev/null || true) | wc -l)
  echo "$LONG_STREAMS streams of 120 events, one a second, at once: $complete ended with [DONE] after ${seconds}s"
  [ "$seconds" -ge 100 ] || echo "!! the streams ended too soon to be the 2-minute ones (an old fake-upstream?)"
  echo "gateway RSS: $((before_kb / 1024)) MB before, at most $((peak_kb / 1024)) MB while streaming (+$(((peak_kb - before_kb) * 1024 / LONG_STREAMS / 1024)) KB per stream)"
  awk -v t="$ticks" -v hz="$TICKS" -v n="$LONG_STREAMS" -v s="$seconds" \
    'BEGIN { printf "gateway CPU: %.2f s in all, %.1f ms per stream per minute (%.2f%% of one core for all of them)\n", t / hz, t / hz * 1000 / n / (s / 60), t / hz / s * 100 }'
  exit 0
fi

# ALLOCS=1: malloc calls in the gateway per request (a uprobe on libc's malloc, counted by perf
# over a bounded wrk run at c=10), for JSON and streamed chat, relayed and translated.
if [ -n "${ALLOCS:-}" ]; then
  LIBC=$(awk '$NF ~ /libc\.so\.6$/ {print $NF; exit}' /proc/$GATEWAY_PID/maps)
  probes=$(perf probe -l 2>/dev/null || true)
  grep -q 'probe_libc:malloc ' <<<"$probes" || perf probe -q -x "$LIBC" --add malloc
  for pair in "JSON:$GW:json" "stream:$GW:stream" "translated Messages→Chat, JSON:$GW_MESSAGES:messages" \
    "translated Messages→Chat, stream:$GW_MESSAGES:messages-stream"; do
    label=${pair%%:http*}
    rest=${pair#"$label:"}
    script=${rest##*:}
    url=${rest%:*}
    perf stat -e probe_libc:malloc -x, -o "$WORK/allocs.csv" -p "$GATEWAY_PID" -- \
      wrk -t1 -c10 -d"${DURATION}s" -s "$WORK/$script.lua" "$url" > "$WORK/allocs.wrk"
    reqs=$(awk '/requests in/ {print $1}' "$WORK/allocs.wrk")
    mallocs=$(awk -F, '/probe_libc:malloc/ {print $1}' "$WORK/allocs.csv")
    printf '%-36s %8s requests  %8.1f mallocs per request\n' "$label" "$reqs" "$(awk -v m="$mallocs" -v n="$reqs" 'BEGIN { print m / n }')"
  done
  perf probe -q --del probe_libc:malloc 2>/dev/null || true
  exit 0
fi

if [ -n "${PROFILE:-}" ]; then
  wrk -t1 -c"${PROFILE_CONNECTIONS:-50}" -d"$((DURATION + 2))s" -s "$WORK/json.lua" "$GW" >/dev/null &
  WRK_PID=$!
  perf record -F 999 -g -p "$GATEWAY_PID" -o "$WORK/perf.data" -- sleep "$DURATION" 2>"$WORK/perf.log" || { cat "$WORK/perf.log"; exit 1; }
  wait "$WRK_PID"
  perf report -i "$WORK/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null | grep -v '^#' | grep '%' | head -${PROFILE_LINES:-40}
  exit 0
fi

echo "Switchboard benchmark: $(nproc) cores, ${DURATION}s per run, wrk and nginx on the same machine"
printf '%-32s %5s %10s %10s %10s %12s\n' "run" "conn" "req/s" "p50" "p99" "cpu µs/req"
: > "$WORK/results.tsv"
# field NAME CONNS COLUMN → a figure of an earlier line (2 req/s, 3 p50 ms, 4 p99 ms, 5 cpu)
field() { awk -F'\t' -v n="$1" -v c="$2" -v k="$3" '$1 == n && $2 == c { print $(k + 1) }' "$WORK/results.tsv"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

if [ -n "${REPLICAS:-}" ]; then
  LB="http://127.0.0.1:$BALANCER_PORT/v1/chat/completions"
  wrk -t1 -c10 -d2s -s "$WORK/json.lua" "$LB" >/dev/null
  run "one replica, JSON" "$GW" "$WORK/json.lua" 50
  run "$REPLICAS replicas behind nginx, JSON" "$LB" "$WORK/json.lua" 50
  run "one replica, stream" "$GW" "$WORK/stream.lua" 50
  run "$REPLICAS replicas behind nginx, stream" "$LB" "$WORK/stream.lua" 50
  echo "(CPU per request behind nginx counts every replica and the balancer)"
elif [ -n "${CURVE:-}" ]; then
  # Throughput and p99 as concurrency grows (wrk needs a descriptor per connection).
  ulimit -n 65536 2>/dev/null || true
  for conns in 1 10 50 200 1000; do
    run "nginx proxy, JSON" "$PX_JSON" "$WORK/json.lua" "$conns"
    run "through gateway, JSON" "$GW" "$WORK/json.lua" "$conns"
  done
  for conns in 1 10 50 200 1000; do
    run "nginx proxy, stream" "$PX_STREAM" "$WORK/stream.lua" "$conns"
    run "through gateway, stream" "$GW" "$WORK/stream.lua" "$conns"
  done
  echo
  echo "gateway req/s as a share of nginx's, by concurrency:"
  for conns in 1 10 50 200 1000; do
    echo "  c=$conns: JSON $(ratio "$(field "through gateway, JSON" $conns 2)" "$(field "nginx proxy, JSON" $conns 2)"), stream $(ratio "$(field "through gateway, stream" $conns 2)" "$(field "nginx proxy, stream" $conns 2)")"
  done
else
  start_floor
  for conns in 1 50; do
    run "upstream direct, JSON" "$UP_JSON" "$WORK/json.lua" $conns
    run "nginx proxy, JSON" "$PX_JSON" "$WORK/json.lua" $conns
    run "SwiftNIO floor, JSON" "$FL_JSON" "$WORK/json.lua" $conns
    run "through gateway, JSON" "$GW" "$WORK/json.lua" $conns
    run "upstream direct, stream" "$UP_STREAM" "$WORK/stream.lua" $conns
    run "nginx proxy, stream" "$PX_STREAM" "$WORK/stream.lua" $conns
    run "SwiftNIO floor, stream" "$FL_STREAM" "$WORK/stream.lua" $conns
    run "through gateway, stream" "$GW" "$WORK/stream.lua" $conns
  done
  run "translated Messages→Chat, JSON" "$GW_MESSAGES" "$WORK/messages.lua" 50
  run "translated Messages→Chat, stream" "$GW_MESSAGES" "$WORK/messages-stream.lua" 50

  # Added latency: p50 through a proxy minus p50 of the fake itself, one client.
  added() { awk -v a="$(field "$1" 1 3)" -v b="$(field "$2" 1 3)" 'BEGIN { printf "%.3f ms", a - b }'; }
  echo
  echo "latency added at p50, concurrency 1: gateway JSON $(added "through gateway, JSON" "upstream direct, JSON"), stream $(added "through gateway, stream" "upstream direct, stream"); nginx proxy JSON $(added "nginx proxy, JSON" "upstream direct, JSON"), stream $(added "nginx proxy, stream" "upstream direct, stream"); SwiftNIO floor JSON $(added "SwiftNIO floor, JSON" "upstream direct, JSON"), stream $(added "SwiftNIO floor, stream" "upstream direct, stream")"
  echo "gateway as a share of nginx proxy at c=50: JSON req/s $(ratio "$(field "through gateway, JSON" 50 2)" "$(field "nginx proxy, JSON" 50 2)"), stream req/s $(ratio "$(field "through gateway, stream" 50 2)" "$(field "nginx proxy, stream" 50 2)"); CPU per JSON request $(ratio "$(field "through gateway, JSON" 50 5)" "$(field "nginx proxy, JSON" 50 5)")x nginx's"
  echo "SwiftNIO floor as a share of nginx proxy at c=50: JSON req/s $(ratio "$(field "SwiftNIO floor, JSON" 50 2)" "$(field "nginx proxy, JSON" 50 2)"), stream req/s $(ratio "$(field "SwiftNIO floor, stream" 50 2)" "$(field "nginx proxy, stream" 50 2)"); the gateway's CPU per JSON request $(ratio "$(field "through gateway, JSON" 50 5)" "$(field "SwiftNIO floor, JSON" 50 5)")x the floor's"
fi
PEAK_RSS_KB=$(awk '/VmHWM/ {print $2}' /proc/$GATEWAY_PID/status)
# In MB to a tenth: the idle target (30 MB) is closer than a whole megabyte.
IDLE_RSS_MB=$(awk -v kb="$IDLE_RSS_KB" 'BEGIN { printf "%.1f", kb / 1024 }')
PEAK_RSS_MB=$(awk -v kb="$PEAK_RSS_KB" 'BEGIN { printf "%.1f", kb / 1024 }')
echo "gateway RSS: idle $IDLE_RSS_MB MB, peak $PEAK_RSS_MB MB"
printf 'gateway RSS idle MB\t-\t%s\t\t\t\n' "$IDLE_RSS_MB" >> "$WORK/results.tsv"
printf 'gateway RSS peak MB\t-\t%s\t\t\t\n' "$PEAK_RSS_MB" >> "$WORK/results.tsv"
if [[ "${DATABASE:-}" == postgres* ]]; then
  ROWS=$(psql "$DATABASE" -qAtc "select count(*) from ledger" 2>/dev/null || echo "?")
else
  ROWS=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from ledger').fetchone()[0])" "$WORK/data/switchboard.db" 2>/dev/null || echo "?")
fi
echo "ledger rows written: $ROWS"
OUTCOMES=$(python3 -c "import sqlite3,sys; print(', '.join(f'{o} {n}' for o, n in sqlite3.connect(sys.argv[1]).execute('select outcome || coalesce(\\' (\\' || error_code || \\')\\', \\'\\'), count(*) from ledger group by 1 order by 2 desc')))" "$WORK/data/switchboard.db" 2>/dev/null || echo "?")
echo "ledger outcomes: $OUTCOMES"
if grep -q "warning\|error" "$WORK/gateway.log"; then
  echo "gateway warnings (first 5):"
  grep "warning\|error" "$WORK/gateway.log" | head -5
fi

# --compare / --save: the change against the last accepted figures, or new ones.
if [ -n "$MODE" ]; then
  python3 - "$MODE" "$WORK/results.tsv" "$BASELINE" "${CURVE:+curve}" <<'PY'
import json, os, sys
mode, results, baseline_path, kind = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] or "standard"
rows = {}
for line in open(results):
    name, conns, rps, p50, p99, cpu = (line.rstrip("\n").split("\t") + [""] * 6)[:6]
    num = lambda v: float(v) if v not in ("", "-") else None
    rows[f"{name} @{conns}"] = {"value": num(rps), "p50_ms": num(p50), "p99_ms": num(p99), "cpu_us": num(cpu)}
baseline = json.load(open(baseline_path)) if os.path.exists(baseline_path) else {}
if mode == "--save":
    baseline[kind] = rows
    with open(baseline_path, "w") as f:
        json.dump(baseline, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"\nsaved to {baseline_path} ({kind})")
    sys.exit(0)
old = baseline.get(kind)
if not old:
    print(f"\nno {kind} figures in {baseline_path}: run with --save first")
    sys.exit(0)
print(f"\nchange against {baseline_path} ({kind}); for latency, CPU and memory lower is better")
print(f"{'run':<40} {'req/s (or MB)':>14} {'p99':>9} {'cpu/req':>9}")
def change(new, before):
    if new is None or before in (None, 0): return "-"
    return f"{(new - before) / before * 100:+.0f}%"
for key, new in rows.items():
    before = old.get(key)
    if not before: continue
    print(f"{key:<40} {change(new['value'], before['value']):>14} {change(new['p99_ms'], before['p99_ms']):>9} {change(new['cpu_us'], before['cpu_us']):>9}")
PY
fi
