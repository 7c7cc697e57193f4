"""The gateway the SDK and client suites run against: the fake upstream
(`fake-upstream`) and the real gateway binary, started once per session.

The gateway runs exactly as a user runs it: `switchboard serve --config FILE`,
embedded SQLite on disk. Only the provider is fake (this machine cannot reach
the real ones); it speaks the OpenAI, Anthropic and Gemini wire formats on
loopback. Accounts: gpt-4o-mini on an OpenAI account, claude-sonnet-4-5 on an
Anthropic account, gemini-2.5-flash on a Gemini account, `echo` on OpenAI and
Anthropic. Each suite's conftest puts tests/ on sys.path and imports from here.
"""
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from gateway_process import BIN, Output

KEY = "sk-sb-e2e-0123456789abcdefghijklmnopqrstuv"
OPENAI_SECRET = "sk-upstream-e2e-openai"
ANTHROPIC_SECRET = "sk-upstream-e2e-anthropic"
GEMINI_SECRET = "gemini-upstream-e2e-key"
ADMIN_TOKEN = "e2e-admin-token-0123456789abcdef"
BROKE_KEY = "sk-sb-e2e-broke-0123456789abcdefghijklmn"
QUEUED_KEY = "sk-sb-e2e-queued-0123456789abcdefghijklm"
CAPTURED_KEY = "sk-sb-e2e-captured-0123456789abcdefghijk"
# Models whose name makes the fake upstream misbehave. Each is served by accounts
# of its own, so the cooldown a failure earns never touches the healthy accounts.
FAULT_MODELS = ["fail-429", "fail-529", "fail-500", "drop-after-first-chunk", "truncated-stream", "big-stream", "short-slow-stream",
               "held-stream"]


class Gateway:
    def __init__(self, port, db_path, process, config, env):
        self.port = port
        self.db_path = db_path
        self.process = process
        self.config = config
        self.env = env
        self.openai_base = f"http://127.0.0.1:{port}/v1"
        self.anthropic_base = f"http://127.0.0.1:{port}"
        self.gemini_base = f"http://127.0.0.1:{port}"

    def ledger_row(self, request_id, timeout=10.0):
        """The ledger row of one request, read from the gateway's SQLite file."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with sqlite3.connect(self.db_path) as db:
                db.row_factory = sqlite3.Row
                row = db.execute("SELECT * FROM ledger WHERE request_id = ?", (request_id,)).fetchone()
                if row is not None:
                    return dict(row)
            time.sleep(0.05)
        raise AssertionError(f"no ledger row for {request_id}")

    def cli(self, *args, expect_code=0):
        """Runs a `switchboard` admin command against the running gateway's database."""
        result = subprocess.run(
            [str(BIN / "switchboard"), *args, "--config", str(self.config)],
            capture_output=True, text=True, env=self.env, timeout=60,
        )
        assert result.returncode == expect_code, result.stderr
        return result.stdout, result.stderr

    def rss_kib(self):
        """The gateway process's resident memory."""
        with open(f"/proc/{self.process.pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

    def ledger_rows_for_key(self, key_name):
        with sqlite3.connect(self.db_path) as db:
            return db.execute("SELECT COUNT(*) FROM ledger WHERE key_name = ?", (key_name,)).fetchone()[0]

    def ledger_mark(self):
        """Where the ledger ends now: pass it to `ledger_rows_since`."""
        with sqlite3.connect(self.db_path) as db:
            return db.execute("SELECT COALESCE(MAX(rowid), 0) FROM ledger").fetchone()[0]

    def ledger_rows_since(self, mark, count, timeout=10.0):
        """The rows written after `mark`, oldest first, once there are at least
        `count` of them (or when `timeout` has passed: then the caller's count
        assertion says what is missing)."""
        deadline = time.monotonic() + timeout
        while True:
            with sqlite3.connect(self.db_path) as db:
                db.row_factory = sqlite3.Row
                rows = [dict(row) for row in db.execute("SELECT * FROM ledger WHERE rowid > ? ORDER BY rowid", (mark,))]
            if len(rows) >= count or time.monotonic() >= deadline:
                return rows
            time.sleep(0.05)

    def ledger_count(self, request_id):
        with sqlite3.connect(self.db_path) as db:
            return db.execute("SELECT COUNT(*) FROM ledger WHERE request_id = ?", (request_id,)).fetchone()[0]


@pytest.fixture(scope="session")
def gateway():
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-e2e-"))
    fake = subprocess.Popen(
        [str(BIN / "fake-upstream"), "0", f"{OPENAI_SECRET},{ANTHROPIC_SECRET},{GEMINI_SECRET}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    fake_port = int(Output(fake).wait_for(r"listening (\d+)").group(1))
    faults = "".join(
        f"""
  - name: {provider}-{model}
    provider: {provider}
    base_url: http://127.0.0.1:{fake_port}{suffix}
    api_key: {secret}
    models: [{model}]"""
        for model in FAULT_MODELS
        for provider, suffix, secret in (("openai", "/v1", OPENAI_SECRET), ("anthropic", "", ANTHROPIC_SECRET))
    )
    config = workdir / "switchboard.yaml"
    config.write_text(f"""
listen: 127.0.0.1:0
database: sqlite:{workdir}/data/switchboard.db
admin_token: {ADMIN_TOKEN}
keepalive_interval: 200ms
capture: {{keys: [captured], max_bytes: 1024, redact: [password]}}
allow_private_upstreams: true
accounts:
  - name: openai-1
    provider: openai
    base_url: http://127.0.0.1:{fake_port}/v1
    api_key: ${{E2E_OPENAI_SECRET}}
    models: [gpt-4o-mini, echo]
  - name: anthropic-1
    provider: anthropic
    base_url: http://127.0.0.1:{fake_port}
    api_key: {ANTHROPIC_SECRET}
    models: [claude-sonnet-4-5, echo]
  - name: gemini-1
    provider: gemini
    base_url: http://127.0.0.1:{fake_port}
    api_key: {GEMINI_SECRET}
    models: [gemini-2.5-flash, gemini-embedding-001]
  - name: openai-embeddings
    provider: openai
    base_url: http://127.0.0.1:{fake_port}/v1
    api_key: {OPENAI_SECRET}
    models: [text-embedding-3-small]{faults}
keys:
  - name: e2e
    key: {KEY}
  - name: broke
    key: {BROKE_KEY}
    balance_usd: 0
  - name: queued
    key: {QUEUED_KEY}
    concurrency: 1
    max_waiting: 4
  - name: captured
    key: {CAPTURED_KEY}
""")
    env = dict(os.environ, E2E_OPENAI_SECRET=OPENAI_SECRET)
    env.pop("SWITCHBOARD_MASTER_KEY", None)
    process = subprocess.Popen(
        [str(BIN / "switchboard"), "serve", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=workdir,
    )
    output = Output(process)
    port = int(output.wait_for(r"switchboard listening address=127\.0\.0\.1:(\d+)").group(1))
    yield Gateway(port, workdir / "data" / "switchboard.db", process, config, env)
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=30)
    finally:
        fake.terminate()
        fake.wait(timeout=10)
    output = output.text(finished=True)
    shutil.rmtree(workdir, ignore_errors=True)
    assert code == 0, f"the gateway did not exit cleanly on SIGTERM ({code}):\n{output}"
    for secret in (KEY, OPENAI_SECRET, ANTHROPIC_SECRET, GEMINI_SECRET, ADMIN_TOKEN, BROKE_KEY, QUEUED_KEY, CAPTURED_KEY):
        assert secret not in output, "a secret was logged"
