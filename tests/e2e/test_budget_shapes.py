"""Budgets of more shapes through the real gateway: a group's multiplier per
model, a key's model budget and budget period, a usage reset from the admin API
and the CLI, a user's concurrency across its keys. Everything is set through
the admin API (as the console and CLI set it) on the running gateway."""
import json
import re
import threading
import time
import urllib.error
import urllib.request

import openai
import pytest

from conftest import ADMIN_TOKEN

MESSAGES = [{"role": "user", "content": "Say hello"}]


def admin(gateway, method, path, body=None):
    request = urllib.request.Request(
        f"http://127.0.0.1:{gateway.port}/admin{path}", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def new_key(gateway, name, **settings):
    status, created = admin(gateway, "POST", "/keys", {"name": name, **settings})
    assert status == 201, created
    return openai.OpenAI(base_url=gateway.openai_base, api_key=created["api_key"], max_retries=0)


def test_a_groups_multiplier_for_a_model_glob_prices_that_model_only(gateway):
    status, group = admin(gateway, "POST", "/groups", {"name": "resellers", "multiplier": 1, "price_multiplier": {"gpt-4o-*": "2.5"}})
    assert status == 201 and group["price_multiplier"] == {"gpt-4o-*": "2.5"}, group
    assert admin(gateway, "POST", "/users", {"name": "reseller-1", "group": "resellers"})[0] == 201
    client = new_key(gateway, "reseller-key", user="reseller-1")
    mini = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=16)
    row = gateway.ledger_row(mini.headers["x-request-id"])
    assert row["upstream_cost_picos"] > 0
    assert row["cost_picos"] == -(-row["upstream_cost_picos"] * 5 // 2), "2.5 times list price for gpt-4o-*, rounded up"
    other = client.chat.completions.with_raw_response.create(model="claude-sonnet-4-5", messages=MESSAGES, max_tokens=16)
    row = gateway.ledger_row(other.headers["x-request-id"])
    assert row["cost_picos"] == row["upstream_cost_picos"] > 0, "the group's own multiplier (1) for the rest"


def test_a_model_budget_refuses_its_models_with_the_glob_and_lets_others_through(gateway):
    client = new_key(gateway, "opus-capped", model_budgets={"gpt-4o-*": {"daily_usd": "0.00000001"}})
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=16)
    assert caught.value.code == "insufficient_quota"
    assert "daily budget for gpt-4o-* models" in caught.value.message
    assert client.chat.completions.create(model="claude-sonnet-4-5", messages=MESSAGES, max_tokens=16).choices
    status, view = admin(gateway, "GET", "/keys/opus-capped")
    assert view["model_budgets"] == {"gpt-4o-*": {"daily_usd": "0.00000001"}}
    assert "claude-sonnet-4-5" in view["usage"]["models"]


def test_a_budget_period_is_shown_with_its_reset_and_holds(gateway):
    client = new_key(gateway, "monthly-budget", budget_usd="0.00000001", budget_duration="30d")
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=16)
    assert "This key's budget" in caught.value.message
    status, view = admin(gateway, "GET", "/keys/monthly-budget")
    assert view["budget_usd"] == "0.00000001" and view["budget_duration"] == "30d"
    assert view["usage"]["budget_spent_usd"] == "0" and view["usage"]["budget_resets_at"]
    status, error = admin(gateway, "PATCH", "/keys/monthly-budget", {"budget_duration": "90m"})
    assert status == 400 and "whole hours" in error["error"]["message"]


def test_reset_usage_from_the_api_and_the_cli_lets_a_key_run_again(gateway):
    client = new_key(gateway, "reset-me", rate_limit={"window_minutes": 60, "requests": 1})
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=16)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=16)
    status, view = admin(gateway, "POST", "/keys/reset-me/reset_usage", {"parts": ["window"]})
    assert status == 200 and view["usage_reset"] == ["window"], view
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=16)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=16)
    # From the CLI (another process): the running gateway applies it within a second or so.
    gateway.cli("keys", "reset-usage", "reset-me", "--parts", "window")
    deadline = time.monotonic() + 5
    while True:
        try:
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=16)
            break
        except openai.RateLimitError:
            assert time.monotonic() < deadline, "the CLI's reset did not reach the running gateway"
            time.sleep(0.1)
    status, audit = admin(gateway, "GET", "/audit?target=reset-me")
    actions = [entry["action"] for entry in audit["entries"]]
    assert actions.count("key.reset_usage") == 2, actions
    assert admin(gateway, "POST", "/keys/reset-me/reset_usage", {"parts": ["hourly"]})[0] == 400


def test_a_users_concurrency_holds_across_its_keys(gateway):
    assert admin(gateway, "POST", "/users", {"name": "one-at-a-time", "concurrency": 1, "max_waiting": 0})[0] == 201
    first = new_key(gateway, "solo-a", user="one-at-a-time")
    second = new_key(gateway, "solo-b", user="one-at-a-time")
    done = threading.Event()

    def hold_the_users_slot():
        for _ in first.chat.completions.create(model="held-stream", messages=MESSAGES, stream=True):
            pass
        done.set()

    holder = threading.Thread(target=hold_the_users_slot)
    holder.start()
    fake_port = re.search(r"http://127\.0\.0\.1:(\d+)", gateway.config.read_text()).group(1)
    try:
        deadline = time.monotonic() + 10
        while admin(gateway, "GET", "/keys/solo-a")[1]["usage"]["in_flight"] == 0:
            assert time.monotonic() < deadline, "the held stream never took its slot"
            time.sleep(0.05)
        with pytest.raises(openai.RateLimitError) as caught:
            second.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=16)
        assert "key owner has as many requests in flight" in caught.value.message
    finally:
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{fake_port}/held/release", method="POST"), timeout=10)
        holder.join(30)
    assert done.is_set()
    assert second.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=16).choices
