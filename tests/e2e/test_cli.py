"""The admin command line, run against the database of the running gateway."""
import json
import time

import openai
import pytest

from conftest import ANTHROPIC_SECRET, KEY, OPENAI_SECRET

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
