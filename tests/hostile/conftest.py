"""Hostile end-to-end tests: the real `switchboard` binary against a hostile fake
upstream (`hostile_upstream.py`, raw asyncio) and hostile clients (raw sockets),
all on loopback, in bounded loops.

Every test, through the autouse `checked` fixture, ends by asserting that the
gateway process is alive and that no secret (client keys, the upstream key, the
admin token) appears in anything it has logged so far.
"""
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gateway_process import BIN, Output  # noqa: E402

from hostile_upstream import HostileUpstream

KEY = "sk-sb-hostile-0123456789abcdefghijklmnop"
BUDGET_KEY = "sk-sb-hostile-budget-0123456789abcdefghij"
UPSTREAM_SECRET = "sk-upstream-hostile-secret-9f8e7d6c5b4a"
ADMIN_TOKEN = "hostile-admin-token-0123456789abcdef"
SECRETS = (KEY, BUDGET_KEY, UPSTREAM_SECRET, ADMIN_TOKEN)

# Models served by one account each; the name is the hostile upstream's behaviour.
SINGLE_MODELS = [
    "ok", "hang-head", "rst-head", "rst-mid-stream", "stall-mid-stream", "huge-sse-line", "huge-sse-line-first",
    "huge-json", "huge-json-unframed", "redirect-302", "redirect-307", "redirect-308",
    "ratelimit-retry-after-1e300", "ratelimit-retry-after-ms-1e19", "ratelimit-reset-huge", "ratelimit-garbage",
    "ratelimit-far-date", "ratelimit-inf", "ratelimit-non-ascii-date", "endless-stream", "echo-secret-401", "echo-secret-500",
    "usage-1e15", "usage-1e400", "usage-int-overflow", "usage-negative", "usage-fraction", "usage-strings", "usage-nested-junk",
]
USAGE_MODELS = [m for m in SINGLE_MODELS if m.startswith("usage-")]
# Dear prices, so an absurd token count makes an absurd cost.
PRICE = "{input_cost_per_token: 1.5e-04, output_cost_per_token: 6.0e-04}"

LIVE = {}  # the running gateways, for the autouse check


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "product_bug: the test shows a known product bug and fails until it is fixed (deselect with -m 'not product_bug')")


# ---------------------------------------------------------------- processes


class Gateway:
    def __init__(self, name, workdir, config_text, prefix=()):
        self.name = name
        self.workdir = workdir
        (workdir / "data").mkdir(parents=True, exist_ok=True)
        self.db_path = workdir / "data" / "switchboard.db"
        self.config = workdir / "switchboard.yaml"
        self.config.write_text(config_text)
        self.env = dict(os.environ)
        self.env.pop("SWITCHBOARD_MASTER_KEY", None)
        for name_ in list(self.env):
            if name_.startswith("SWITCHBOARD_") and name_ != "SWITCHBOARD_BIN_DIR":
                self.env.pop(name_)
        self.process = subprocess.Popen(
            [*prefix, str(BIN / "switchboard"), "serve", "--config", str(self.config)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace", env=self.env, cwd=workdir,
        )
        self.output = Output(self.process)
        self.port = int(self.output.wait_for(r"switchboard listening address=127\.0\.0\.1:(\d+)").group(1))
        self.base = f"http://127.0.0.1:{self.port}"

    # -- liveness and logs

    def alive(self):
        return self.process.poll() is None

    def log(self):
        return self.output.text()

    def assert_healthy(self):
        assert self.alive(), f"the {self.name} gateway died (exit {self.process.returncode}):\n{self.log()[-5000:]}"
        log = self.log()
        for secret in SECRETS:
            assert secret not in log, f"a secret ({secret[:10]}…) appears in the {self.name} gateway's log"
        assert "Fatal error" not in log and "Segmentation fault" not in log, log[-5000:]

    def stop(self):
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
                return None
        return self.process.returncode

    def remove(self):
        """Deletes the gateway's work directory (once it has stopped)."""
        shutil.rmtree(self.workdir, ignore_errors=True)

    def fd_count(self):
        try:
            return len(os.listdir(f"/proc/{self.process.pid}/fd"))
        except OSError:
            return -1

    def rss_kib(self):
        with open(f"/proc/{self.process.pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

    # -- ledger

    def _query(self, sql, args=()):
        db = sqlite3.connect(self.db_path, timeout=10)
        try:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute(sql, args).fetchall()]
        finally:
            db.close()

    def rows(self, request_id):
        return self._query("SELECT * FROM ledger WHERE request_id = ?", (request_id,))

    def row(self, request_id, timeout=30.0):
        """The one ledger row of a request, waited for (rows are written in batches)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.rows(request_id)
            if rows:
                assert len(rows) == 1, f"{len(rows)} ledger rows for {request_id}"
                return rows[0]
            time.sleep(0.05)
        raise AssertionError(f"no ledger row for {request_id} within {timeout}s")

    def barrier(self):
        """Sends a good request and waits for its row: rows of requests answered
        before it are written by then (a refusal records before it answers)."""
        response = httpx.post(f"{self.base}/v1/chat/completions", headers=auth(), json=chat("ok"), timeout=30)
        assert response.status_code == 200, response.text
        self.row(response.headers["x-request-id"])

    def assert_no_row(self, request_id):
        self.barrier()
        assert self.rows(request_id) == [], f"a ledger row was written for {request_id}"

    def row_count(self):
        return self._query("SELECT COUNT(*) AS n FROM ledger")[0]["n"]

    def duplicate_ids(self):
        return self._query("SELECT request_id, COUNT(*) AS n FROM ledger GROUP BY request_id HAVING n > 1")


def accounts_yaml(upstream_port):
    base = f"http://127.0.0.1:{upstream_port}/v1"
    entries = [
        f"""
  - name: acct-{model}
    provider: openai
    base_url: {base}
    api_key: {UPSTREAM_SECRET}
    models: [{model}]"""
        for model in SINGLE_MODELS
    ]
    # One client model, two accounts: the first resets before the head, the second answers.
    entries.append(f"""
  - name: acct-failover-broken
    provider: openai
    base_url: {base}
    api_key: {UPSTREAM_SECRET}
    models: [rst-failover]
    model_map: {{rst-failover: rst-head}}
    priority: 0
  - name: acct-failover-healthy
    provider: openai
    base_url: {base}
    api_key: {UPSTREAM_SECRET}
    models: [rst-failover]
    model_map: {{rst-failover: ok}}
    priority: 1""")
    return "".join(entries)


def gateway_config(workdir, upstream_port, extra=""):
    prices = "".join(f"\n  {m}: {PRICE}" for m in USAGE_MODELS + ["ok", "rst-failover"])
    return f"""
listen: 127.0.0.1:0
database: sqlite:{workdir}/data/switchboard.db
admin_token: {ADMIN_TOKEN}
log_level: trace
allow_private_upstreams: true
connect_timeout: 2s
first_byte_timeout: 2s
stream_idle_timeout: 4s
client_header_timeout: 2s
client_body_timeout: 2s
client_send_timeout: 2s
keepalive_timeout: 5s
max_body_size: 8MiB
max_failovers: 3
transient_failures: 100000
health_probe_interval: 0
drain_timeout: 2s
shutdown_timeout: 5s{extra}
prices:{prices}
accounts:{accounts_yaml(upstream_port)}
keys:
  - name: hostile
    key: {KEY}
  - name: budget
    key: {BUDGET_KEY}
    balance_usd: 5
"""


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def upstream():
    server = HostileUpstream()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gateway(upstream):
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-hostile-"))
    gw = Gateway("main", workdir, gateway_config(workdir, upstream.port))
    LIVE["main"] = gw
    yield gw
    LIVE.pop("main", None)
    gw.assert_healthy()
    duplicates = gw.duplicate_ids()
    code = gw.stop()
    assert code == 0, f"the gateway did not exit cleanly on SIGTERM ({code}):\n{gw.log()[-5000:]}"
    assert not duplicates, f"duplicate ledger rows: {duplicates}"
    log = gw.log()
    for secret in SECRETS:
        assert secret not in log, "a secret was logged"
    # Nothing that reached the upstream carried the client's key.
    for recorded in upstream.requests:
        flat = json.dumps({k: v for k, v in recorded.headers.items()}) + recorded.body.decode("latin-1")
        assert KEY not in flat and BUDGET_KEY not in flat, "the client's key went upstream"
    gw.remove()


@pytest.fixture(autouse=True)
def checked():
    yield
    for gw in list(LIVE.values()):
        gw.assert_healthy()
        assert not gw.duplicate_ids(), "duplicate request ids in the ledger"


# ---------------------------------------------------------------- requests


def auth(key=KEY):
    return {"authorization": f"Bearer {key}"}


def chat(model, stream=False, marker=None, **extra):
    body = {"model": model, "messages": [{"role": "user", "content": marker or f"hi {uuid.uuid4().hex}"}], "max_tokens": 32}
    if stream:
        body["stream"] = True
    body.update(extra)
    return body


def assert_openai_error(response, status=None):
    if status is not None:
        assert response.status_code == status, f"{response.status_code}: {response.text[:500]}"
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert {"message", "type", "param", "code"} <= set(error), body
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str)
    return error


def assert_anthropic_error(response, status=None):
    if status is not None:
        assert response.status_code == status, f"{response.status_code}: {response.text[:500]}"
    body = response.json()
    assert body.get("type") == "error", body
    assert isinstance(body["error"]["type"], str) and isinstance(body["error"]["message"], str), body
    return body["error"]


def assert_gemini_error(response, status=None):
    if status is not None:
        assert response.status_code == status, f"{response.status_code}: {response.text[:500]}"
    body = response.json()
    error = body["error"]
    assert error["code"] == response.status_code and isinstance(error["message"], str) and isinstance(error["status"], str), body
    return error


ROUTES = {
    # name: (path, body builder, shape check)
    "openai_chat": ("/v1/chat/completions", lambda model, **f: {"model": model, "messages": [{"role": "user", "content": "hi"}], **f},
                    assert_openai_error),
    "anthropic_messages": ("/v1/messages", lambda model, **f: {"model": model, "max_tokens": 16,
                                                               "messages": [{"role": "user", "content": "hi"}], **f},
                           assert_anthropic_error),
    "openai_responses": ("/v1/responses", lambda model, **f: {"model": model, "input": "hi", **f}, assert_openai_error),
}


def sse_events(text):
    """The events of an SSE body, in order, as (event name or None, data)."""
    events = []
    for block in re.split(r"\r?\n\r?\n", text):
        lines = re.split(r"\r?\n", block)
        data = [line[5:].lstrip() for line in lines if line.startswith("data:")]
        name = next((line[6:].strip() for line in lines if line.startswith("event:")), None)
        if data:
            events.append((name, "\n".join(data)))
    return events


# How each streaming route ends a stream that broke after it started.
def openai_stream_error(events):
    name, data = events[-1]
    assert data != "[DONE]", "a broken stream must not end as if it had finished"
    body = json.loads(data)
    assert set(body) == {"error"} and isinstance(body["error"]["message"], str), body
    return body["error"]


def anthropic_stream_error(events):
    name, data = events[-1]
    body = json.loads(data)
    assert name == "error" and body["type"] == "error" and isinstance(body["error"]["type"], str), (name, body)
    assert not any(n == "message_stop" for n, _ in events), "a broken stream must not end with message_stop"
    return body["error"]


def gemini_stream_error(events):
    name, data = events[-1]
    body = json.loads(data)
    assert set(body) == {"error"} and isinstance(body["error"]["code"], int) and isinstance(body["error"]["status"], str), body
    return body["error"]


STREAM_ROUTES = {
    # name: (path, body, headers, error-event check, text-delta finder)
    "openai_chat": (
        "/v1/chat/completions",
        lambda model: {"model": model, "stream": True, "max_tokens": 32, "messages": [{"role": "user", "content": "hi"}]},
        {}, openai_stream_error),
    "anthropic_messages": (
        "/v1/messages",
        lambda model: {"model": model, "stream": True, "max_tokens": 32, "messages": [{"role": "user", "content": "hi"}]},
        {"anthropic-version": "2023-06-01"}, anthropic_stream_error),
    "gemini_stream": (
        None,  # the model is in the path
        lambda model: {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        {}, gemini_stream_error),
}


def stream_path(route, model):
    path = STREAM_ROUTES[route][0]
    return path or f"/v1beta/models/{model}:streamGenerateContent?alt=sse"


# ---------------------------------------------------------------- raw sockets


def connect(port, timeout=10.0):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_until_closed(sock, timeout=30.0, limit=16 << 20):
    """Everything the server sends until it closes (or resets) the connection,
    or `timeout` passes; returns (bytes, closed)."""
    deadline = time.monotonic() + timeout
    data = b""
    while time.monotonic() < deadline and len(data) < limit:
        sock.settimeout(max(0.05, min(1.0, deadline - time.monotonic())))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


class RawResponse:
    def __init__(self, status, headers, body):
        self.status_code = status
        self.headers = headers
        self.body = body
        self.text = body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)


def parse_responses(data):
    """Splits raw bytes into HTTP/1.1 responses (content-length or chunked bodies;
    a body without either runs to the end)."""
    responses = []
    while data:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            break
        head = data[:end].decode("latin-1").split("\r\n")
        data = data[end + 4:]
        status = int(head[0].split(" ")[1])
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            length = int(headers["content-length"])
            body, data = data[:length], data[length:]
        elif "chunked" in headers.get("transfer-encoding", ""):
            body = b""
            while True:
                line_end = data.find(b"\r\n")
                if line_end < 0:
                    data = b""
                    break
                size = int(data[:line_end].split(b";")[0], 16)
                body += data[line_end + 2: line_end + 2 + size]
                data = data[line_end + 2 + size + 2:]
                if size == 0:
                    break
        else:
            body, data = data, b""
        responses.append(RawResponse(status, headers, body))
    return responses


def post_head(path, key=KEY, length=None, extra=()):
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {key}", "Content-Type: application/json"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines += list(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def wait_until(predicate, timeout=30.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
