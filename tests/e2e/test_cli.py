"""The admin command line, run against the database of the running gateway."""
import json
import os
import socket
import stat
import subprocess
import time

import httpx
import openai
import pytest

from conftest import ADMIN_TOKEN, ANTHROPIC_SECRET, BIN, KEY, OPENAI_SECRET

MESSAGES = [{"role": "user", "content": "Say hello"}]


def test_keys_list_never_shows_a_key(gateway):
    out, _ = gateway.cli("keys", "list", "--json")
    keys = {row["name"]: row for row in json.loads(out)}
    assert keys["e2e"]["key"] == "sk-sb-…" + KEY[-4:]
    assert keys["e2e"]["state"] == "active" and keys["e2e"]["source"] == "config"
    assert KEY not in out


def test_accounts_list_never_shows_a_secret(gateway):
    out, _ = gateway.cli("accounts", "list", "--json")
    accounts = {row["name"]: row for row in json.loads(out)}
    assert accounts["openai-1"]["enabled"] is True and accounts["anthropic-1"]["provider"] == "anthropic"
    assert accounts["openai-1"]["secret"] == "ok"
    assert OPENAI_SECRET not in out and ANTHROPIC_SECRET not in out


def _status_within(client, expected, seconds=1.5):
    deadline = time.monotonic() + seconds
    while True:
        try:
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
            status = 200
        except openai.AuthenticationError:
            status = 401
        if status == expected or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def test_a_key_created_and_revoked_by_the_cli_takes_effect_while_running(gateway):
    out, err = gateway.cli("keys", "create", "--name", "cli-made")
    key = out.strip()
    assert key.startswith("sk-sb-") and len(key) >= 6 + 43
    assert "only time" in err
    client = openai.OpenAI(base_url=gateway.openai_base, api_key=key, max_retries=0)
    assert _status_within(client, 200) == 200
    gateway.cli("keys", "revoke", "cli-made")
    assert _status_within(client, 401) == 401


def test_usage_totals_by_key_and_model(gateway):
    client = openai.OpenAI(base_url=gateway.openai_base, api_key=KEY, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    gateway.ledger_row(raw.headers["x-request-id"])
    out, _ = gateway.cli("usage", "--json")
    report = json.loads(out)
    models = {row["name"]: row for row in report["by_model"]}
    keys = {row["name"]: row for row in report["by_key"]}
    assert int(models["gpt-4o-mini"]["requests"]) >= 1
    assert int(models["gpt-4o-mini"]["output"]) >= 9
    assert float(keys["e2e"]["cost_usd"]) > 0
    table, _ = gateway.cli("usage", "--since", "1h")
    assert "gpt-4o-mini" in table and "By model" in table


def _run(*args, cwd, env=None):
    """The binary as a user runs it, in a directory of their choosing."""
    environment = dict(os.environ, **(env or {}))
    for name in ("SWITCHBOARD_CONFIG", "SWITCHBOARD_DATABASE", "SWITCHBOARD_MASTER_KEY"):
        environment.pop(name, None)
    return subprocess.run([str(BIN / "switchboard"), *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=60)


def test_version_and_one_line_errors_with_documented_exit_codes(tmp_path):
    version = _run("--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("switchboard ")
    missing = _run("serve", "--config", "nope.yaml", cwd=tmp_path)
    assert missing.returncode == 2 and missing.stderr.strip().count("\n") == 0 and "nope.yaml" in missing.stderr
    unknown = _run("keys", "frobnicate", cwd=tmp_path)
    assert unknown.returncode == 2 and unknown.stderr.startswith("switchboard: ") and unknown.stderr.count("\n") == 1


def test_a_command_in_the_wrong_directory_creates_nothing(tmp_path):
    """Only `serve` and `init` make a database: elsewhere a command says where it looked."""
    refused = _run("keys", "list", cwd=tmp_path)
    assert refused.returncode == 2
    assert str(tmp_path / "switchboard-data" / "switchboard.db") in refused.stderr and "switchboard init" in refused.stderr
    assert list(tmp_path.iterdir()) == [], "no database or master key was made"
    created = _run("init", cwd=tmp_path)
    assert created.returncode == 0 and "(created)" in created.stdout
    data = tmp_path / "switchboard-data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("switchboard.db", "master.key"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name
    listed = _run("keys", "list", cwd=tmp_path)
    assert listed.returncode == 0 and f"database: {data / 'switchboard.db'}" in listed.stderr
    # Without the gateway's master key an admin command makes no new one either.
    (data / "master.key").rename(tmp_path / "elsewhere.key")
    keyless = _run("keys", "list", cwd=tmp_path)
    assert keyless.returncode == 2 and "no master key" in keyless.stderr
    assert not (data / "master.key").exists()


def test_a_port_in_use_is_one_line_and_exit_1(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        served = _run("serve", "--listen", f"127.0.0.1:{port}", cwd=tmp_path)
    assert served.returncode == 1
    last = served.stderr.strip().splitlines()[-1]
    assert last.startswith("switchboard: cannot listen on 127.0.0.1:") and "in use" in last


def test_reconcile_compares_the_ledger_with_a_provider_export_and_the_admin_api_shows_it(gateway, tmp_path):
    client = openai.OpenAI(base_url=gateway.openai_base, api_key=KEY, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    row = gateway.ledger_row(raw.headers["x-request-id"])
    day = time.strftime("%Y-%m-%d", time.gmtime())
    export = tmp_path / "openai-usage.csv"
    # The provider counted 10 more output tokens than the ledger did (OpenAI's input counts cached tokens too).
    export.write_text("date,model,input_tokens,input_cached_tokens,output_tokens,cost_usd\n"
                      f"{day},gpt-4o-mini,{row['input_uncached'] + row['cache_read']},{row['cache_read']},{row['output'] + 10},1.00\n")
    out, err = gateway.cli("reconcile", "--provider", "openai", "--account", "openai-1", "--json", str(export))
    report = json.loads(out)
    line = next(line for line in report["lines"] if line["model"] == "gpt-4o-mini")
    assert line["provider"]["output"] == row["output"] + 10 and line["ledger"]["output"] >= row["output"]
    assert report["account"] == "openai-1" and report["from"] == day and line["drift_usd"] is not None
    table, _ = gateway.cli("reconcile", "--provider", "openai", str(export))
    assert "gpt-4o-mini" in table and "DRIFT_TOKENS" in table
    reply = httpx.get(f"http://127.0.0.1:{gateway.port}/admin/reconciliation", headers={"authorization": f"Bearer {ADMIN_TOKEN}"})
    assert reply.status_code == 200 and reply.json()["provider"] == "openai"
    _, err = gateway.cli("reconcile", "--provider", "azure", str(export), expect_code=2)
    assert "openai or anthropic" in err
