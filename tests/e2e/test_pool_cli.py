"""The account pool seen from the command line and the admin API, while the
gateway runs: live state, enable/disable, caps, probes, master key rotation."""
import json
import os
import stat
import time
from pathlib import Path

import httpx
import openai
import pytest

from conftest import ADMIN_TOKEN, ANTHROPIC_SECRET, KEY, OPENAI_SECRET

MESSAGES = [{"role": "user", "content": "Say hello"}]


def accounts(gateway):
    out, _ = gateway.cli("accounts", "list", "--json")
    return {row["name"]: row for row in json.loads(out)}


def wait_for(condition, seconds=5.0):
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def chat_status(gateway, model="gpt-4o-mini"):
    client = openai.OpenAI(base_url=gateway.openai_base, api_key=KEY, max_retries=0)
    try:
        client.chat.completions.create(model=model, messages=MESSAGES)
        return 200
    except openai.APIStatusError as error:
        return error.status_code


def test_the_cli_shows_a_cooldown_the_server_applied(gateway):
    assert chat_status(gateway, "fail-429") == 429
    # Before the server first saves its statuses, the account has no live state yet.
    row = wait_for(lambda: (a := accounts(gateway)["openai-fail-429"]).get("live")
                   and a["live"]["state"] == "cooling_down" and a)
    assert row, "the CLI shows the server's cooldown within a few seconds"
    assert row["live"]["last_error"] == "upstream answered 429"
    assert row["live"]["cooldown_cause"] == "rate_limited"
    table, _ = gateway.cli("accounts", "list")
    assert "cooling_down" in table and OPENAI_SECRET not in table


def test_disable_and_enable_take_effect_while_running(gateway):
    gateway.cli("accounts", "disable", "openai-1")
    assert wait_for(lambda: chat_status(gateway) == 503, 3), "a disabled account serves nothing"
    gateway.cli("accounts", "enable", "openai-1")
    assert wait_for(lambda: chat_status(gateway) == 200, 3)


def test_caps_are_set_and_removed_from_the_cli(gateway):
    gateway.cli("accounts", "update", "openai-1", "--max-concurrency", "2", "--max-waiting", "4", "--wait-timeout", "10s")
    row = accounts(gateway)["openai-1"]
    assert row["max_concurrency"] == 2 and row["max_waiting"] == 4 and row["wait_timeout"] == "10s"
    assert row["models"] == ["gpt-4o-mini", "echo"], "settings not given stay as they were"
    gateway.cli("accounts", "update", "openai-1", "--max-concurrency", "0")
    assert "max_concurrency" not in accounts(gateway)["openai-1"]
    assert wait_for(lambda: chat_status(gateway) == 200, 3)


def test_the_test_command_probes_an_account(gateway):
    out, _ = gateway.cli("accounts", "test", "openai-1", "--json")
    result = json.loads(out)
    assert result["ok"] is True and result["status"] == 200
    out, _ = gateway.cli("accounts", "test", "anthropic-fail-500", expect_code=1)
    assert "failed" in out and "500" in out and ANTHROPIC_SECRET not in out


def test_the_admin_api_lists_live_state_with_the_admin_token_only(gateway):
    url = f"http://127.0.0.1:{gateway.port}/admin/accounts"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"authorization": f"Bearer {KEY}"}).status_code == 401
    reply = httpx.get(url, headers={"authorization": f"Bearer {ADMIN_TOKEN}"})
    assert reply.status_code == 200
    live = {row["name"]: row["live"] for row in reply.json()}
    assert live["openai-1"]["state"] == "ready" and live["openai-1"]["total_requests"] >= 1
    assert OPENAI_SECRET not in reply.text


def test_rotating_the_master_key_keeps_a_running_gateway_serving(gateway):
    key_file = Path(gateway.db_path).parent / "master.key"
    before = key_file.read_text()
    out, _ = gateway.cli("secrets", "rotate")
    assert "Re-sealed" in out
    assert key_file.read_text() != before
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert not (key_file.parent / "master.key.next").exists()
    assert all(row["secret"] == "ok" for row in accounts(gateway).values())
    # The rotation changed every sealed secret; the running server reloads them
    # under the new key file and keeps serving, and client keys still work.
    assert wait_for(lambda: chat_status(gateway) == 200, 3)
    gateway.cli("accounts", "update", "openai-1", "--notes", "after rotation")
    time.sleep(0.6)
    assert chat_status(gateway) == 200
