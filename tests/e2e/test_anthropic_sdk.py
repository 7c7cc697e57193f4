"""The official anthropic SDK, unmodified, through the gateway."""
import json

import anthropic
import pytest

from conftest import KEY, expected_cost_picos

TEXT = "Hello from the fake upstream."
MESSAGES = [{"role": "user", "content": "Say hello"}]


@pytest.fixture
def client(gateway):
    return anthropic.Anthropic(base_url=gateway.anthropic_base, api_key=KEY, max_retries=0)


def test_message_and_its_ledger_row(client, gateway, prices):
    raw = client.messages.with_raw_response.create(model="claude-sonnet-4-5", max_tokens=64, messages=MESSAGES)
    message = raw.parse()
    assert message.content[0].text == TEXT
    assert message.usage.input_tokens == 21 and message.usage.output_tokens == 9
    assert raw.headers["request-id"] == raw.headers["x-request-id"]
    row = gateway.ledger_row(raw.headers["x-request-id"])
    assert row["account_name"] == "anthropic-1" and row["provider"] == "anthropic"
    assert (row["input_uncached"], row["output"], row["stream"]) == (21, 9, 0)
    assert row["cost_picos"] == expected_cost_picos(prices, "claude-sonnet-4-5", uncached=21, output=9)


def test_streaming_helpers(client, gateway):
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=64, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
        request_id = stream.response.headers["x-request-id"]
    assert text == TEXT
    assert final.stop_reason == "end_turn"
    assert final.usage.input_tokens == 21 and final.usage.output_tokens == 9
    row = gateway.ledger_row(request_id)
    assert (row["input_uncached"], row["output"], row["stream"], row["outcome"]) == (21, 9, 1, "ok")


def test_claude_code_style_auth_token_and_beta_headers(gateway):
    client = anthropic.Anthropic(
        base_url=gateway.anthropic_base, auth_token=KEY, max_retries=0,
        default_headers={"anthropic-beta": "prompt-caching-2024-07-31", "X-Claude-Code-Session-Id": "s-1"},
    )
    message = client.messages.create(model="echo", max_tokens=64, messages=MESSAGES)
    seen = json.loads(message.content[0].text)
    assert seen["anthropic_beta"] == "prompt-caching-2024-07-31"
    assert seen["anthropic_version"], "the SDK's anthropic-version reached the upstream"


def test_models_list(client):
    ids = [model.id for model in client.models.list()]
    assert "claude-sonnet-4-5" in ids


def test_a_bad_key_is_an_authentication_error(gateway):
    bad = anthropic.Anthropic(base_url=gateway.anthropic_base, api_key="sk-sb-wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as caught:
        bad.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=MESSAGES)
    assert caught.value.status_code == 401
    assert caught.value.body["error"]["type"] == "authentication_error"


def test_overloaded_upstream_is_an_overloaded_error(client):
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(model="fail-529", max_tokens=64, messages=MESSAGES)
    assert caught.value.status_code == 529
    assert caught.value.body["error"]["type"] == "overloaded_error"


def test_rate_limit_error(client):
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(model="fail-429", max_tokens=64, messages=MESSAGES)


def test_a_stream_broken_midway_raises_in_the_sdk(client):
    with pytest.raises(anthropic.APIError):
        with client.messages.stream(model="truncated-stream", max_tokens=64, messages=MESSAGES) as stream:
            for _ in stream.text_stream:
                pass


def test_count_tokens_through_the_sdk(gateway):
    client = anthropic.Anthropic(base_url=gateway.anthropic_base, api_key=KEY, max_retries=0)
    counted = client.messages.count_tokens(model="claude-sonnet-4-5", messages=MESSAGES)
    assert counted.input_tokens == 21
