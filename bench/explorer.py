#!/usr/bin/env python3
"""Benchmark: the request explorer, the console's dashboard and the stats
endpoints over a large ledger.

Creates a gateway database, fills its ledger with ROWS synthetic rows spread over
the last SPAN_DAYS days (default 30) (200 keys, 20 accounts, 12 models, 2% errors; written straight into
SQLite, as a year of traffic would have left them), starts the gateway on it, and
times, from a client on loopback, each explorer query (newest page, by key, by
account, by model, by status class, by outcome, a time range, a cursor page deep in
the range, one request by id) and each dashboard period, REPEAT times each. Prints
p50 and p95 per query in milliseconds. Bounded: it stops by itself.

    bench/explorer.py                        # 1,000,000 rows, release build
    ROWS=100000 REPEAT=10 bench/explorer.py
    ROWS=300000 SPAN_DAYS=365 bench/explorer.py   # a year: the stats endpoints over it
    BIN=/path/to/switchboard bench/explorer.py
"""
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROWS = int(os.environ.get("ROWS", "1000000"))
REPEAT = int(os.environ.get("REPEAT", "20"))
SPAN_DAYS = int(os.environ.get("SPAN_DAYS", "30"))
TOKEN = "bench-admin-token-0123456789abcdef"


def binary():
    if os.environ.get("BIN"):
        return os.environ["BIN"]
    subprocess.run(["swift", "build", "-c", "release", "--product", "switchboard"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    path = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, check=True, capture_output=True, text=True)
    return str(Path(path.stdout.strip()) / "switchboard")


def start(bin_path, work, port):
    config = work / "switchboard.yaml"
    config.write_text(f"""
listen: 127.0.0.1:{port}
database: sqlite:{work}/data/switchboard.db
admin_token: {TOKEN}
allow_private_upstreams: true
accounts:
""" + "".join(f"""  - name: acct-{i}
    provider: openai
    base_url: http://127.0.0.1:9/v1
    api_key: sk-upstream-{i}
    models: [gpt-4o-mini]
""" for i in range(20)) + "keys:\n" + "".join(f"""  - name: key-{i}
    key: sk-sb-bench-key-{i:04d}-0123456789abcdefghijkl
""" for i in range(200)))
    process = subprocess.Popen([bin_path, "serve", "--config", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=work)
    for line in process.stdout:
        if "switchboard listening" in line:
            return process
    raise RuntimeError("the gateway did not start")


def fill(db_path):
    models = ["gpt-4o-mini", "gpt-4o", "gpt-4.1", "o4-mini", "claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1",
              "gemini-2.5-flash", "gemini-2.5-pro", "text-embedding-3-small", "gpt-5", "gpt-5-mini"]
    outcomes = ["ok"] * 98 + ["upstream_error", "client_error"]
    now_ms = int(time.time() * 1000)
    span = SPAN_DAYS * 86_400_000
    rng = random.Random(7)
    db = sqlite3.connect(db_path)
    account_ids = {name: ident for ident, name in db.execute("SELECT id, name FROM accounts")}
    key_ids = {name: ident for ident, name in db.execute("SELECT id, name FROM keys")}
    columns = ("request_id, created_at, key_id, key_name, account_id, account_name, provider, dialect, model, upstream_model, "
               "status, outcome, error_code, stream, input_uncached, cache_read, cache_write_5m, cache_write_1h, output, reasoning, "
               "cost_picos, priced, usage_incomplete, latency_ms, first_byte_ms, attempts, route, user_name, usage_source, "
               "delivered_bytes, upstream_cost_picos, client_address, user_agent, selection")
    batch = []
    for n in range(ROWS):
        key = rng.randrange(200)
        account = f"acct-{rng.randrange(20)}"
        outcome = rng.choice(outcomes)
        status = 200 if outcome == "ok" else (502 if outcome == "upstream_error" else 400)
        model = rng.choice(models)
        inp, out = rng.randrange(10, 4000), rng.randrange(1, 1500)
        cost = inp * 150_000 + out * 600_000
        batch.append((f"req_bench_{n:012d}", now_ms - span + n * span // ROWS, key_ids[f"key-{key}"], f"key-{key}", account_ids[account],
                      account, "openai", "openai_chat", model, model, status, outcome, None if status == 200 else "upstream_error",
                      rng.randrange(2), inp, 0, 0, 0, out, 0, cost, 1, 0, rng.randrange(200, 9000), rng.randrange(100, 2000), 1,
                      None, None, "reported", 0, cost, f"10.0.{key % 250}.{rng.randrange(250)}", "bench/1.0", "ranked"))
        if len(batch) == 50_000:
            db.executemany(f"INSERT INTO ledger ({columns}) VALUES ({','.join('?' * 34)})", batch)
            batch.clear()
    if batch:
        db.executemany(f"INSERT INTO ledger ({columns}) VALUES ({','.join('?' * 34)})", batch)
    file_rollups(db)
    db.commit()
    db.execute("ANALYZE")
    db.close()


def file_rollups(db):
    """The rollups the gateway's ledger writer files with each batch (Sources/Storage/LedgerRollups.swift),
    for rows written straight into the ledger: usage by hour per dimension, by minute and latency histograms
    for keys, users and accounts, the global histograms, lifetime totals. Sums in billions and the rest."""
    unit = 1_000_000_000
    hour, minute = "(created_at - created_at % 3600000)", "(created_at - created_at % 60000)"
    sums = [("input", "input_uncached"), ("cache_read", "cache_read"), ("cache_write_5m", "cache_write_5m"),
            ("cache_write_1h", "cache_write_1h"), ("output", "output"), ("cost", "cost_picos"), ("latency", "latency_ms"),
            ("list_input", "list_input_picos"), ("list_cache_read", "list_cache_read_picos"),
            ("list_cache_write_5m", "list_cache_write_5m_picos"), ("list_cache_write_1h", "list_cache_write_1h_picos"),
            ("list_output", "list_output_picos"), ("cache_saved", "cache_saved_picos")]
    counts = [("requests", "1"), ("errors", "status >= 400"), ("rate_limited", "status = 429"),
              ("client_errors", "status >= 400 AND status < 500 AND status != 429"), ("server_errors", "status >= 500")]
    columns = [c for c, _ in counts] + [f"{n}_{part}" for n, _ in sums for part in ("hi", "lo")]
    values = [f"SUM({e})" for _, e in counts] + [f"SUM({e} {op} {unit})" for _, e in sums for op in ("/", "%")]

    def name(cols):
        return " || '/' || ".join(f"COALESCE(CAST({c} AS TEXT), '')" for c in cols) if cols else "''"

    def bucket(v):
        cases, limit, step = f"CASE WHEN {v} < 100 THEN MAX({v}, 0)", 1000, 10
        while limit <= 1_000_000_000_000:
            cases += f" WHEN {v} < {limit} THEN {v} / {step} * {step}"
            limit, step = limit * 10, step * 10
        return cases + f" ELSE {v} / {step} * {step} END"

    hourly = {"total": [], "key": ["key_name"], "user": ["user_name"], "model": ["model"], "account": ["account_name"],
              "key_id": ["key_id"], "key_model": ["key_id", "model"], "user_model": ["user_name", "model"]}
    stats = {"key_id": ["key_id"], "user": ["user_name"], "account": ["account_name"]}
    for table, time_column, time, dims in [("usage_hourly", "hour", hour, hourly), ("usage_minutely", "minute", minute, stats)]:
        for dim, cols in dims.items():
            db.execute(f"INSERT INTO {table} (dimension, name, {time_column}, {', '.join(columns)}) "
                       f"SELECT '{dim}', {name(cols)}, {time}, {', '.join(values)} FROM ledger GROUP BY 2, 3")
    for dim, cols in stats.items():
        db.execute(f"INSERT INTO latency_by_hour (dimension, name, hour, bucket, count) "
                   f"SELECT '{dim}', {name(cols)}, {hour}, {bucket('latency_ms')}, COUNT(*) FROM ledger GROUP BY 2, 3, 4")
    db.execute(f"INSERT INTO latency_hourly (hour, kind, bucket, count) SELECT {hour}, 0, {bucket('latency_ms')}, COUNT(*) FROM ledger GROUP BY 1, 3")
    db.execute(f"INSERT INTO latency_hourly (hour, kind, bucket, count) SELECT {hour}, 1, {bucket('first_byte_ms')}, COUNT(*) "
               "FROM ledger WHERE first_byte_ms IS NOT NULL GROUP BY 1, 3")
    tokens = ["input_uncached", "cache_read", "cache_write_5m", "cache_write_1h", "output"]
    db.execute(f"INSERT INTO key_totals (key_id, cost_hi, cost_lo, tokens_hi, tokens_lo) SELECT key_id, SUM(cost_picos / {unit}), "
               f"SUM(cost_picos % {unit}), SUM({' + '.join(f'{t} / {unit}' for t in tokens)}), SUM({' + '.join(f'{t} % {unit}' for t in tokens)}) "
               "FROM ledger WHERE key_id IS NOT NULL GROUP BY key_id")
    db.execute(f"INSERT INTO user_totals (user_name, cost_hi, cost_lo) SELECT user_name, SUM(cost_picos / {unit}), SUM(cost_picos % {unit}) "
               "FROM ledger WHERE user_name IS NOT NULL GROUP BY user_name")


def timed(port, path, cookie=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if cookie:
        request.add_header("cookie", cookie)
    else:
        request.add_header("authorization", f"Bearer {TOKEN}")
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        body = response.read()
        assert response.status == 200, (path, response.status)
    return (time.perf_counter() - start) * 1000, body


def sign_in(port):
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args):
            return None
    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(f"http://127.0.0.1:{port}/admin/ui/login", data=f"token={TOKEN}".encode(), method="POST")
    try:
        opener.open(request, timeout=30)
    except urllib.error.HTTPError as redirect:
        return redirect.headers["set-cookie"].split(";")[0]
    raise RuntimeError("sign-in did not redirect")


def main():
    bin_path = binary()
    work = Path(tempfile.mkdtemp(prefix="switchboard-explorer-"))
    port = 18950
    gateway = start(bin_path, work, port)  # creates and migrates the database, seeds the accounts
    gateway.terminate()
    gateway.wait(timeout=30)
    started = time.perf_counter()
    fill(work / "data" / "switchboard.db")
    print(f"filled {ROWS:,} rows in {time.perf_counter() - started:.0f} s; database {os.path.getsize(work / 'data' / 'switchboard.db') / 1e6:.0f} MB")
    gateway = start(bin_path, work, port)
    try:
        middle = int(time.time()) - SPAN_DAYS * 86_400 // 2
        _, first = timed(port, "/admin/requests?limit=50&from=" + str(middle - 86400) + "&to=" + str(middle))
        import json
        cursor = json.loads(first).get("next_cursor")
        queries = {
            "newest page": "/admin/requests?limit=50",
            "by key": "/admin/requests?key=key-17",
            "by account": "/admin/requests?account=acct-3",
            "by model": "/admin/requests?model=gpt-4.1",
            "by status 5xx": "/admin/requests?status=5xx",
            "by outcome": "/admin/requests?outcome=client_error",
            "an hour, 15 days ago": f"/admin/requests?from={middle - 3600}&to={middle}",
            "next page (cursor)": f"/admin/requests?limit=50&from={middle - 86400}&to={middle}&cursor={cursor}",
            "key and model": "/admin/requests?key=key-17&model=gpt-4.1",
            "one request": f"/admin/requests/req_bench_{ROWS // 2:012d}",
            f"key stats, {SPAN_DAYS} d by day": f"/admin/keys/key-17/stats?days={SPAN_DAYS}",
            f"key stats, {SPAN_DAYS} d by hour": f"/admin/keys/key-17/stats?interval=hour&from={int(time.time()) - min(SPAN_DAYS, 416) * 86_400}",
            f"account stats, {SPAN_DAYS} d by day": f"/admin/accounts/acct-3/stats?days={SPAN_DAYS}",
            "account stats, 24 h by minute": "/admin/accounts/acct-3/stats?interval=minute",
        }
        if cursor is None:
            del queries["next page (cursor)"]
        cookie = sign_in(port)
        pages = {f"dashboard {p}": f"/admin/ui/?period={p}" for p in ("1h", "24h", "7d", "30d")}
        pages["usage report by model, 30 d"] = "/admin/ui/usage?by=model"
        print(f"{'query':34} {'p50 ms':>8} {'p95 ms':>8}")
        for name, path in list(queries.items()) + list(pages.items()):
            samples = sorted(timed(port, path, cookie if path.startswith("/admin/ui") else None)[0] for _ in range(REPEAT))
            p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
            print(f"{name:34} {statistics.median(samples):8.1f} {p95:8.1f}")
    finally:
        gateway.terminate()
        gateway.wait(timeout=30)
        subprocess.run(["rm", "-rf", str(work)])


if __name__ == "__main__":
    sys.exit(main())
