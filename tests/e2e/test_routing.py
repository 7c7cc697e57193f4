"""Routing through the real gateway with the official SDKs: a pool reserved for
a bound key, a model alias with fallbacks that the SDK lists and streams from,
and a session quarantined after the provider's ban signal. Everything is set up
through the admin API on the running gateway, as an operator would."""
import json
from decimal import Decimal

import anthropic
import openai
import pytest

from conftest import ANTHROPIC_SECRET, OPENAI_SECRET
from test_budget_shapes import MESSAGES, admin, new_key


def fake_root(gateway):
    status, account = admin(gateway, "GET", "/accounts/anthropic-1")
    assert status == 200, account
    return account["base_url"]


def add_account(gateway, name, provider, models, **settings):
    root = fake_root(gateway)
    secret = OPENAI_SECRET if provider == "openai" else ANTHROPIC_SECRET
    body = {"name": name, "provider": provider, "api_key": secret, "models": models,
            "base_url": root + ("/v1" if provider == "openai" else ""), **settings}
    status, created = admin(gateway, "POST", "/accounts", body)
    assert status == 201, created
    return created


def test_a_pool_serves_only_the_keys_bound_to_it(gateway):
    add_account(gateway, "pooled-1", "openai", ["pool-only-model"], pools=["vip"])
    bound = new_key(gateway, "vip-key", pools=["vip"])
    unbound = new_key(gateway, "plain-key")
    answer = bound.chat.completions.with_raw_response.create(model="pool-only-model", messages=MESSAGES, max_tokens=16)
    assert gateway.ledger_row(answer.headers["x-request-id"])["account_name"] == "pooled-1"
    with pytest.raises(openai.NotFoundError):
        unbound.chat.completions.create(model="pool-only-model", messages=MESSAGES, max_tokens=16)
    assert "pool-only-model" in {model.id for model in bound.models.list()}
    assert "pool-only-model" not in {model.id for model in unbound.models.list()}


def test_an_alias_is_listed_and_falls_back_for_the_openai_and_anthropic_sdks(gateway):
    status, alias = admin(gateway, "PUT", "/models/team-fast", {"targets": ["fail-500", "gpt-4o-mini"]})
    assert status == 200, alias
    client = new_key(gateway, "alias-key")
    assert "team-fast" in {model.id for model in client.models.list()}
    answer = client.chat.completions.with_raw_response.create(model="team-fast", messages=MESSAGES, max_tokens=16)
    row = gateway.ledger_row(answer.headers["x-request-id"])
    assert row["model"] == "team-fast" and row["upstream_model"] == "gpt-4o-mini" and row["attempts"] >= 2
    assert "failed(" in row["route"]
    chunks = list(client.chat.completions.create(model="team-fast", messages=MESSAGES, max_tokens=16, stream=True))
    assert any(chunk.choices and chunk.choices[0].delta.content for chunk in chunks)
    status, created = admin(gateway, "POST", "/keys", {"name": "alias-anthropic"})
    claude = anthropic.Anthropic(base_url=gateway.anthropic_base, api_key=created["api_key"], max_retries=0)
    message = claude.messages.create(model="team-fast", max_tokens=16, messages=MESSAGES)
    assert message.content[0].text
    assert admin(gateway, "DELETE", "/models/team-fast")[0] == 204


def test_a_ban_signal_quarantines_the_session_until_an_admin_releases_it(gateway):
    add_account(gateway, "to-be-banned", "openai", ["banned-account", "after-ban"])
    client = new_key(gateway, "ban-key")
    session = {"session-id": "e2e-conversation-7"}
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.chat.completions.create(model="banned-account", messages=MESSAGES, max_tokens=16, extra_headers=session)
    assert caught.value.code == "session_quarantined"
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model="after-ban", messages=MESSAGES, max_tokens=16, extra_headers=session)
    status, quarantines = admin(gateway, "GET", "/quarantines")
    mine = [entry for entry in quarantines if entry["key"] == "ban-key"]
    assert status == 200 and len(mine) == 1 and mine[0]["account"] == "to-be-banned" and mine[0]["signal"] == "account_deactivated"
    assert admin(gateway, "POST", f"/quarantines/{mine[0]['id']}/release")[0] == 200
    assert admin(gateway, "POST", "/accounts/to-be-banned/enable")[0] == 200
    answer = client.chat.completions.create(model="after-ban", messages=MESSAGES, max_tokens=16, extra_headers=session)
    assert answer.choices[0].message.content


def test_a_sessions_cache_use_and_savings_are_shown_by_the_admin_api_and_the_cli(gateway):
    # The fake reports cache reads for a `-cached` model; the price is gpt-4o-mini's (the client's name).
    add_account(gateway, "cache-openai", "openai", ["gpt-4o-mini"], model_map={"gpt-4o-mini": "gpt-4o-mini-cached"}, pools=["cache"])
    client = new_key(gateway, "cache-key", pools=["cache"])
    session = {"session-id": "e2e-cache-conversation"}
    ids = [client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, max_tokens=16, extra_headers=session).headers["x-request-id"] for _ in range(2)]
    ids.append(client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, max_tokens=16, extra_headers={"session-id": "another"}).headers["x-request-id"])
    rows = [gateway.ledger_row(request_id) for request_id in ids]
    assert rows[0]["session"] and rows[0]["session"] == rows[1]["session"] != rows[2]["session"]
    assert "e2e-cache-conversation" not in rows[0]["session"], "the ledger keeps a digest, not what the client wrote"

    status, page = admin(gateway, "GET", "/sessions?key=cache-key")
    assert status == 200 and len(page["sessions"]) == 2, page
    assert page["sessions"][0]["session"] == rows[2]["session"], "the most recently active first"
    seen = page["sessions"][1]
    assert seen["session"] == rows[0]["session"] and seen["requests"] == 2 and seen["accounts"] == ["cache-openai"]
    assert seen["tokens"]["cache_read"] == 2 * 100 and 0 < seen["cache_hit_ratio"] < 1
    assert Decimal(seen["cache_saved_usd"]) > 0 and seen["quarantined"] is False
    # The same session from the CLI, its requests in the explorer, and the account's savings including them.
    out, _ = gateway.cli("sessions", "--key", "cache-key")
    assert json.loads(out)["sessions"] == page["sessions"]
    status, requests = admin(gateway, "GET", f"/requests?session={seen['session']}")
    assert status == 200 and sorted(row["request_id"] for row in requests["requests"]) == sorted(ids[:2])
    status, stats = admin(gateway, "GET", "/accounts/cache-openai/stats")
    assert status == 200 and Decimal(stats["cache_saved_usd"]) >= Decimal(seen["cache_saved_usd"])


def test_a_providers_failover_cap_is_set_and_removed_from_the_cli_and_the_admin_api(gateway):
    out, _ = gateway.cli("providers", "set", "gemini", "--max-failovers", "2")
    assert json.loads(out) == {"provider": "gemini", "max_failovers": 2}
    status, providers = admin(gateway, "GET", "/providers")
    assert status == 200 and {p["provider"]: p.get("max_failovers") for p in providers} == {
        "openai": None, "anthropic": None, "gemini": 2, "azure": None}
    _, refused = gateway.cli("providers", "set", "bedrock", "--max-failovers", "1", expect_code=2)
    assert "bedrock" in refused and "not a provider" in refused
    status, error = admin(gateway, "PUT", "/providers/gemini", {"max_failovers": 101})
    assert status == 400, error
    gateway.cli("providers", "remove", "gemini")
    out, _ = gateway.cli("providers", "list")
    assert all("max_failovers" not in provider for provider in json.loads(out))
    assert admin(gateway, "DELETE", "/providers/gemini")[0] == 404
