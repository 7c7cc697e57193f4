"""Routing through the real gateway with the official SDKs: a pool reserved for
a bound key, a model alias with fallbacks that the SDK lists and streams from,
and a session quarantined after the provider's ban signal. Everything is set up
through the admin API on the running gateway, as an operator would."""
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
