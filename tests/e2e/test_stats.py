"""Stats as an operator reads them from the admin API of the real gateway: a
key's series by hour with tokens and list price by class and by model, an
account's minute series with its 429s and when it last saw one."""
import openai
import pytest

from test_budget_shapes import MESSAGES, admin, new_key


def test_a_keys_stats_split_tokens_and_list_price_by_class_and_model(gateway):
    client = new_key(gateway, "stats-key")
    ids = []
    for model in ("gpt-4o-mini", "gpt-4o-mini", "claude-sonnet-4-5"):
        ids.append(client.chat.completions.with_raw_response.create(model=model, messages=MESSAGES, max_tokens=16).headers["x-request-id"])
    rows = [gateway.ledger_row(request_id) for request_id in ids]
    status, stats = admin(gateway, "GET", "/keys/stats-key/stats?interval=hour")
    assert status == 200, stats
    assert stats["kind"] == "key" and stats["interval"] == "hour" and stats["requests"] == 3 and stats["errors"] == 0
    assert stats["tokens"]["total"] == sum(row["input_uncached"] + row["cache_read"] + row["cache_write_5m"] + row["cache_write_1h"] + row["output"] for row in rows)
    assert stats["list_cost_usd"]["total"] == stats["cost_usd"], "no multiplier: the list price is what was charged"
    picos = lambda usd: round(float(usd) * 10**12)
    assert picos(stats["list_cost_usd"]["output"]) == sum(row["list_output_picos"] for row in rows) > 0
    by_model = {entry["model"]: entry for entry in stats["models"]}
    assert by_model["gpt-4o-mini"]["requests"] == 2 and by_model["claude-sonnet-4-5"]["requests"] == 1
    assert stats["mean_latency_ms"] >= 0 and stats["p95_latency_ms"] >= 0 and sum(s["requests"] for s in stats["series"]) == 3
    assert admin(gateway, "GET", "/keys/stats-key/stats?interval=fortnight")[0] == 400
    assert admin(gateway, "GET", "/keys/stats-key/stats?interval=minute&from=2020-01-01")[0] == 400


def test_an_accounts_minute_series_counts_its_429s_and_says_when_it_last_saw_one(gateway):
    client = new_key(gateway, "stats-429")
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="fail-429", messages=MESSAGES, max_tokens=16)
    gateway.ledger_row(caught.value.response.headers["x-request-id"])  # written, and so in the rollups
    # Both fail-429 accounts answer 429; earlier tests may have cooled them already, so look at both.
    answers = [admin(gateway, "GET", f"/accounts/{name}/stats?interval=minute") for name in ("openai-fail-429", "anthropic-fail-429")]
    assert all(status == 200 for status, _ in answers), answers
    stats = [body for _, body in answers]
    assert all(entry["kind"] == "account" and "models" not in entry for entry in stats)
    assert sum(entry["rate_limited"] for entry in stats) >= 1
    for entry in stats:
        assert sum(s["rate_limited"] for s in entry["series"]) == entry["rate_limited"]
    seen = [entry for entry in stats if entry.get("last_429_at")]
    assert seen, "the pool saw the upstream's 429"
    status, account = admin(gateway, "GET", f"/accounts/{seen[0]['name']}")
    assert account["live"]["last_429_at"] == seen[0]["last_429_at"]


def test_policy_simulate_replays_the_recorded_traffic_against_a_proposal(gateway, tmp_path):
    import json
    import re
    import subprocess

    from conftest import BIN, KEY

    client = openai.OpenAI(base_url=gateway.openai_base, api_key=KEY, max_retries=0)
    answer = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=16)
    gateway.ledger_row(answer.headers["x-request-id"])  # written: the replay reads the ledger
    database = re.search(r"^database: (.+)$", gateway.config.read_text(), re.M).group(1)
    proposal = tmp_path / "proposal.yaml"
    proposal.write_text(f"""
database: {database}
keys:
  - name: e2e
    key: {KEY}
    models: ["claude-*"]
""")
    def simulate(*args, code=0):
        # Not gateway.cli: that one adds the running gateway's --config, and this reads the proposal's.
        result = subprocess.run([str(BIN / "switchboard"), "policy", "simulate", *args, "--config", str(proposal)],
                                capture_output=True, text=True, env=gateway.env, timeout=60)
        assert result.returncode == code, result.stderr
        return result.stdout

    report = json.loads(simulate("--since", "1d", "--json"))
    e2e = next(entry for entry in report["keys"] if entry["key"] == "e2e")
    assert e2e["requests"] >= 1 and e2e["refused"].get("model_not_allowed", 0) >= 1, e2e
    assert e2e["admitted"] + sum(e2e["refused"].values()) == e2e["requests"]
    text = simulate("--since", "1d")
    assert "e2e:" in text and "model_not_allowed" in text
    simulate("--since", "soon", code=2)


def test_policy_simulate_from_the_admin_api(gateway):
    from conftest import KEY

    client = openai.OpenAI(base_url=gateway.openai_base, api_key=KEY, max_retries=0)
    answer = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=16)
    gateway.ledger_row(answer.headers["x-request-id"])
    status, report = admin(gateway, "POST", "/policy/simulate", {"since": "1d", "keys": [{"name": "e2e", "models": ["claude-*"]}]})
    assert status == 200, report
    e2e = next(entry for entry in report["keys"] if entry["key"] == "e2e")
    assert e2e["refused"].get("model_not_allowed", 0) >= 1
    status, error = admin(gateway, "POST", "/policy/simulate", {"keys": [{"name": "e2e", "concurrency": 0}]})
    assert status == 400 and error["error"]["message"].startswith("keys[0]: concurrency"), error
    assert admin(gateway, "POST", "/policy/simulate", {"since": "forever"})[0] == 400
