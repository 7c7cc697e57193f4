"""Helpers for the durability tests: gateway processes over data directories
that outlive them, the ledger and journal read from disk, streams read on
threads, small filesystems to fill. (A module of its own name, so that running
these tests beside tests/e2e in one pytest call cannot mix up two `conftest`s.)
"""
import errno
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gateway_process import BIN, Output  # noqa: E402

KEY = "sk-sb-durable-0123456789abcdefghijklmnopq"
KEY_NAME = "durable"
UPSTREAM_SECRET = "sk-upstream-durability"
ADMIN_TOKEN = "durability-admin-token-0123456789"
# Models the fake answers at once; slow ones stream (see FakeBehaviour.swift).
FAST_MODEL = "gpt-4o-mini"
SLOW_MODEL = "slow-stream"  # 200 events, 20 ms apart
SHORT_SLOW_MODEL = "short-slow-stream"  # 20 events, 50 ms apart
PICOS_PER_DOLLAR = Decimal(10) ** 12

# Generous bounds for events (never assertions about how long something took).
EVENT_TIMEOUT = 60.0


def wait_until(predicate, timeout=EVENT_TIMEOUT, interval=0.05, message="condition"):
    """Polls `predicate` until it returns something truthy (returned), or fails after `timeout`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{message} did not happen within {timeout}s (last: {last!r})")


class Gateway:
    """One gateway process over a data directory that outlives it: start it,
    kill it, start it again on the same files."""

    def __init__(self, workdir, data_dir, fake_port, stall_timeout="1s", extra_settings=""):
        self.workdir = Path(workdir)
        self.data_dir = Path(data_dir)
        self.db_path = self.data_dir / "switchboard.db"
        self.journal_dir = self.data_dir / "journal"
        self.config = self.workdir / "switchboard.yaml"
        self.config.write_text(f"""
listen: 127.0.0.1:0
database: sqlite:{self.db_path}
admin_token: {ADMIN_TOKEN}
allow_private_upstreams: true
ledger_stall_timeout: {stall_timeout}
shutdown_timeout: 60s
health_probe_interval: 0
log_level: info
{extra_settings}
prices:
  {SLOW_MODEL}: {{input_cost_per_token: 1.0e-06, output_cost_per_token: 2.0e-06}}
  {SHORT_SLOW_MODEL}: {{input_cost_per_token: 1.0e-06, output_cost_per_token: 2.0e-06}}
accounts:
  - name: fake-openai
    provider: openai
    base_url: http://127.0.0.1:{fake_port}/v1
    api_key: {UPSTREAM_SECRET}
    models: [{FAST_MODEL}, {SLOW_MODEL}, {SHORT_SLOW_MODEL}]
keys:
  - name: {KEY_NAME}
    key: {KEY}
    balance_usd: 100
""")
        self.env = dict(os.environ)
        for name in list(self.env):
            if name.startswith("SWITCHBOARD_"):
                self.env.pop(name)
        self.process = None
        self.output = None
        self.port = None
        self.runs = []  # (process, output) of every start, for the logs

    # MARK: the process

    def start(self):
        assert self.process is None or self.process.poll() is not None, "already running"
        self.process = subprocess.Popen(
            [str(BIN / "switchboard"), "serve", "--config", str(self.config)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.env, cwd=self.workdir,
        )
        self.output = Output(self.process)
        self.runs.append((self.process, self.output))
        match = self.output.wait_for(r"switchboard listening address=127\.0\.0\.1:(\d+)", self.process)
        self.port = int(match.group(1))
        return self

    @property
    def pid(self):
        return self.process.pid

    def running(self):
        return self.process is not None and self.process.poll() is None

    def kill9(self):
        self.process.send_signal(signal.SIGKILL)
        return self.process.wait(timeout=30)

    def terminate(self, timeout=120):
        """SIGTERM, and the exit code once it has gone."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        self.output.thread.join(timeout=10)
        return code

    def log(self):
        return "".join(f"--- run {i} (pid {p.pid}, exit {p.poll()}) ---\n{o.text()}" for i, (p, o) in enumerate(self.runs))

    # MARK: HTTP

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def client(self, **kwargs):
        return httpx.Client(base_url=self.base, timeout=httpx.Timeout(60.0, connect=10.0), **kwargs)

    def chat(self, client, model=FAST_MODEL, stream=False, **extra):
        """One chat completion (non-streaming unless asked); returns the response, read."""
        body = {"model": model, "messages": [{"role": "user", "content": "Say hello"}], "stream": stream, **extra}
        return client.post("/v1/chat/completions", json=body, headers={"authorization": f"Bearer {KEY}"})

    def ready(self):
        """(status, body) of GET /ready."""
        with self.client() as client:
            response = client.get("/ready")
            return response.status_code, response.json()

    def admin_key(self):
        with self.client() as client:
            response = client.get(f"/admin/keys/{KEY_NAME}", headers={"authorization": f"Bearer {ADMIN_TOKEN}"})
            assert response.status_code == 200, response.text
            return response.json()

    def usage(self):
        with self.client() as client:
            response = client.get("/v1/usage", headers={"authorization": f"Bearer {KEY}"})
            assert response.status_code == 200, response.text
            return response.json()

    # MARK: the ledger and the journal, read from disk

    def db(self, path=None):
        """A connection to the ledger database (or to a copy of it at `path`)."""
        db = sqlite3.connect(str(path or self.db_path), timeout=30)
        db.row_factory = sqlite3.Row
        return db

    def rows(self, path=None):
        """request_id → ledger row (a dict)."""
        db = self.db(path)
        try:
            return {row["request_id"]: dict(row) for row in db.execute("SELECT * FROM ledger")}
        finally:
            db.close()

    def row_counts(self):
        """request_id → how many rows carry it."""
        db = self.db()
        try:
            return {row[0]: row[1] for row in db.execute("SELECT request_id, COUNT(*) FROM ledger GROUP BY request_id")}
        finally:
            db.close()

    def duplicates(self):
        db = self.db()
        try:
            return db.execute("SELECT request_id, COUNT(*) FROM ledger GROUP BY request_id HAVING COUNT(*) > 1").fetchall()
        finally:
            db.close()

    def snapshot_files(self, into):
        """Copies the database files and the journal as they are now (the process dead), to read later."""
        into = Path(into)
        into.mkdir(parents=True)
        for suffix in ("", "-wal", "-shm"):
            source = Path(str(self.db_path) + suffix)
            if source.exists():
                shutil.copy2(source, into / source.name)
        if self.journal_dir.exists():
            shutil.copytree(self.journal_dir, into / "journal")
        return into / self.db_path.name, into / "journal"

    def wait_for_rows(self, request_ids, timeout=EVENT_TIMEOUT):
        """Waits until every id has a row; returns request_id → row count."""
        wanted = set(request_ids)

        def all_there():
            counts = self.row_counts()
            return counts if wanted <= set(counts) else None

        try:
            return wait_until(all_there, timeout=timeout, interval=0.1, message="rows for every request")
        except AssertionError:
            counts = self.row_counts()
            missing = sorted(wanted - set(counts))
            raise AssertionError(f"{len(missing)} of {len(wanted)} requests have no ledger row, e.g. {missing[:5]}\n{self.log()[-4000:]}")

    def journal_segments(self, directory=None):
        directory = Path(directory or self.journal_dir)
        if not directory.exists():
            return []
        return sorted(p for p in directory.iterdir() if re.fullmatch(r"segment-\d+\.log", p.name))

    def journal_open_ids(self, directory=None):
        """Request ids opened and never closed in the journal's segments (what a start would recover)."""
        open_ids = {}
        for segment in self.journal_segments(directory):
            for line in segment.read_bytes().split(b"\n"):
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a line cut by the kill
                if record.get("op") == "o":
                    open_ids.setdefault(record["id"], segment.name)
                elif record.get("op") == "c":
                    open_ids.pop(record["id"], None)
        return open_ids


class Lab:
    """What one test builds: gateways over data directories of its own, and
    small filesystems to starve them. Torn down in the safe order: processes
    first (they hold files open), then mounts, then the directory."""

    def __init__(self, fake_port):
        self.fake_port = fake_port
        self.workdir = Path(tempfile.mkdtemp(prefix="switchboard-durability-"))
        self.gateways = []
        self.mounts = []

    def gateway(self, data_dir=None, stall_timeout="1s", extra_settings=""):
        gateway = Gateway(self.workdir, data_dir or self.workdir / "data", self.fake_port, stall_timeout, extra_settings)
        self.gateways.append(gateway)
        return gateway

    def tmpfs(self, mountpoint, size="32m"):
        """Mounts a tmpfs of `size` at `mountpoint`; skips the test, saying why, where mounting is not allowed."""
        mountpoint = Path(mountpoint)
        mountpoint.mkdir(parents=True, exist_ok=True)
        probe = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(mountpoint)], capture_output=True, text=True)
        if probe.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {probe.stderr.strip() or probe.returncode}")
        self.mounts.append(mountpoint)
        return mountpoint

    def close(self):
        for gateway in self.gateways:
            for process, _ in gateway.runs:
                if process.poll() is None:
                    process.kill()
                    process.wait(timeout=30)
        for mountpoint in reversed(self.mounts):
            for _ in range(20):
                if subprocess.run(["umount", str(mountpoint)], capture_output=True).returncode == 0:
                    break
                time.sleep(0.5)
            else:
                subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True)
        shutil.rmtree(self.workdir, ignore_errors=True)


def fill_filesystem(path):
    """Writes a filler file at `path` until its filesystem has no byte left (ENOSPC)."""
    chunk = b"\0" * (1 << 20)
    with open(path, "wb", buffering=0) as filler:
        for size in (1 << 20, 64 << 10, 4 << 10, 512, 1):
            piece = chunk[:size]
            for _ in range(1 << 16):  # bounded: a 32 MiB tmpfs fills long before
                try:
                    filler.write(piece)
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise
                    break
        os.fsync(filler.fileno())


def dollars_to_picos(text):
    value = Decimal(text) * PICOS_PER_DOLLAR
    assert value == value.to_integral_value(), text
    return int(value)


class BackgroundStream:
    """One streaming chat completion read on a thread: its request id and status
    as soon as the head arrives, then every byte until the end (or an error)."""

    def __init__(self, gateway, model=SLOW_MODEL, max_tokens=1000):
        self.gateway = gateway
        self.model = model
        self.max_tokens = max_tokens
        self.request_id = None
        self.status = None
        self.body = bytearray()
        self.error = None
        self.finished = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        body = {
            "model": self.model, "stream": True, "max_tokens": self.max_tokens,
            "messages": [{"role": "user", "content": "Count slowly"}],
        }
        try:
            with httpx.Client(base_url=self.gateway.base, timeout=httpx.Timeout(60.0, connect=10.0)) as client:
                with client.stream("POST", "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {KEY}"}) as response:
                    self.request_id = response.headers.get("x-request-id")
                    self.status = response.status_code
                    for chunk in response.iter_raw():
                        self.body += chunk
        except httpx.HTTPError as error:
            self.error = repr(error)
        finally:
            self.finished.set()

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    @property
    def completed(self):
        """The whole answer arrived, and the stream ended as OpenAI's does."""
        return self.error is None and self.status == 200 and "data: [DONE]" in self.text

    def words(self):
        """The content deltas, in order."""
        words = []
        for line in self.text.split("\n"):
            if line.startswith("data: {"):
                event = json.loads(line[len("data: "):])
                for choice in event.get("choices", []):
                    if choice.get("delta", {}).get("content"):
                        words.append(choice["delta"]["content"])
        return words

    def wait(self, timeout=EVENT_TIMEOUT):
        assert self.finished.wait(timeout), f"stream {self.request_id} still running after {timeout}s"
        return self
