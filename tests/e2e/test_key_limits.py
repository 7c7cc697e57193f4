"""Key budgets as the official SDKs see them: an exhausted quota is an error the
SDK does not retry, in each API's own form."""
import time

import anthropic
import openai
import pytest

from conftest import BROKE_KEY

MESSAGES = [{"role": "user", "content": "Say hello"}]


def wait_rows(gateway, key_name, count, seconds=5.0):
    deadline = time.monotonic() + seconds
    while gateway.ledger_rows_for_key(key_name) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return gateway.ledger_rows_for_key(key_name)


def test_openai_sdk_sees_insufficient_quota_and_does_not_retry(gateway):
    before = gateway.ledger_rows_for_key("broke")
    client = openai.OpenAI(base_url=gateway.openai_base, api_key=BROKE_KEY)  # default retries on
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert caught.value.code == "insufficient_quota"
    assert caught.value.response.headers["x-should-retry"] == "false"
    time.sleep(0.3)
    assert wait_rows(gateway, "broke", before + 1) == before + 1, "the SDK sent the request once"


def test_anthropic_sdk_sees_a_billing_error(gateway):
    client = anthropic.Anthropic(base_url=gateway.anthropic_base, api_key=BROKE_KEY)
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=MESSAGES)
    assert caught.value.status_code == 402
    assert caught.value.body["error"]["type"] == "billing_error"


def test_a_top_up_from_the_cli_lets_the_key_spend_while_running(gateway):
    gateway.cli("keys", "topup", "broke", "1")
    client = openai.OpenAI(base_url=gateway.openai_base, api_key=BROKE_KEY, max_retries=0)
    deadline = time.monotonic() + 3
    while True:
        try:
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=16)
            break
        except openai.RateLimitError:
            assert time.monotonic() < deadline, "the top-up did not reach the running gateway"
            time.sleep(0.1)
    usage = client.get("/usage", cast_to=object)
    assert usage["plan"] == "balance" and 0 < usage["remaining"] < 1
    gateway.cli("keys", "deduct", "broke", "5", expect_code=64)
