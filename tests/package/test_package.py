"""The packaged binary on its own: scripts/package's archive unpacked into an empty
directory runs there with nothing beside it (no resource bundle, no Swift runtime
from the toolchain): --version names the release and commit; init, accounts add and
keys create set it up; serve answers requests made with the official OpenAI SDK, its
tasks on NIO's event loops."""
import json
import os
import re
import shutil
import signal
import subprocess
import tarfile
import tempfile
from decimal import Decimal
from pathlib import Path

import openai

from gateway_process import BIN, ROOT, Output

UPSTREAM_SECRET = "sk-upstream-package"


def test_the_packaged_binary_serves_from_an_empty_directory():
    # A debug build (the release one takes 20-35 minutes here); what is checked
    # (self-contained, static Swift runtime, embedded resources) is the same.
    packed = subprocess.run([str(ROOT / "scripts" / "package")], cwd=ROOT, capture_output=True, text=True,
                            env=dict(os.environ, CONFIGURATION="debug"), timeout=1800)
    assert packed.returncode == 0, packed.stderr[-3000:]
    archive = ROOT / packed.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"switchboard-[0-9.]+-linux-[a-z0-9_]+\.tar\.gz", archive.name)
    assert not subprocess.run(["git", "status", "--porcelain", "Sources"], cwd=ROOT, capture_output=True, text=True).stdout, \
        "packaging left the source tree changed"

    empty = Path(tempfile.mkdtemp(prefix="switchboard-package-"))
    with tarfile.open(archive) as tar:
        tar.extractall(empty, filter="data")
    folder = next(empty.iterdir())
    binary = folder / "switchboard"
    assert sorted(p.name for p in folder.iterdir()) == ["LICENSE", "README.md", "switchboard"]
    linked = subprocess.run(["ldd", str(binary)], capture_output=True, text=True).stdout
    assert "libswift" not in linked and "libFoundation" not in linked, linked

    commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    version = subprocess.run([str(binary), "--version"], capture_output=True, text=True, cwd=folder)
    assert version.returncode == 0 and commit in version.stdout, version.stdout

    fake = subprocess.Popen([str(BIN / "fake-upstream"), "0", UPSTREAM_SECRET], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    gateway = None
    try:
        fake_port = int(Output(fake).wait_for(r"listening (\d+)", fake).group(1))
        env = {"PATH": "/usr/bin:/bin", "HOME": str(folder), "SWITCHBOARD_ALLOW_PRIVATE_UPSTREAMS": "true",
               "SWITCHBOARD_LISTEN": "127.0.0.1:0", "UPSTREAM_KEY": UPSTREAM_SECRET}
        def run(*args):
            done = subprocess.run([str(binary), *args], capture_output=True, text=True, cwd=folder, env=env, timeout=120)
            assert done.returncode == 0, done.stderr
            return done.stdout
        run("init")
        run("accounts", "add", "--name", "openai-1", "--provider", "openai", "--base-url", f"http://127.0.0.1:{fake_port}/v1",
            "--api-key-env", "UPSTREAM_KEY", "--models", "gpt-4o-mini")
        key = re.search(r"sk-sb-\S+", run("keys", "create", "--name", "packaged")).group(0)

        gateway = subprocess.Popen([str(binary), "serve"], cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        output = Output(gateway)
        port = int(output.wait_for(r"switchboard listening address=127\.0\.0\.1:(\d+)", gateway).group(1))
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0)
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        assert reply.choices[0].message.content and reply.usage.total_tokens > 0
        streamed = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True)
        assert "".join(chunk.choices[0].delta.content or "" for chunk in streamed if chunk.choices)
        # Its tasks ran on NIO's event loops, as in every other build, not on
        # libdispatch's pool: a statically linked runtime once hid the hook that
        # moves them, and libdispatch's workers (threads named for their QoS
        # queues) cost a thread hop per await and trap the process when
        # descriptors run out. Its manager thread (for signals) may exist.
        threads = [(task / "comm").read_text().strip() for task in Path(f"/proc/{gateway.pid}/task").iterdir()]
        assert not [name for name in threads if "qos" in name and not name.endswith("overcommit")], threads
        assert "not running on NIO's event loops" not in output.text(), output.text()
        # Priced from the table compiled into the binary.
        gateway.send_signal(signal.SIGTERM)
        assert gateway.wait(timeout=30) == 0
        usage = json.loads(run("usage", "--json"))
        model = next(row for row in usage["by_model"] if row["name"] == "gpt-4o-mini")
        assert Decimal(model["cost_usd"]) > 0, usage
        assert UPSTREAM_SECRET not in output.text(finished=True) and key not in output.text(finished=True)
    finally:
        if gateway and gateway.poll() is None:
            gateway.kill()
        fake.terminate()
        fake.wait(timeout=10)
        shutil.rmtree(empty, ignore_errors=True)
