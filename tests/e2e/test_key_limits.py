"""Key budgets as the official SDKs see them: an exhausted quota is an error the
SDK does not retry, in each API's own form."""
import json
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
    gateway.cli("keys", "deduct", "broke", "5", expect_code=2)


def test_sdks_stream_through_keepalives_while_waiting_for_a_key_slot(gateway):
    import threading

    from conftest import QUEUED_KEY

    holder_done = threading.Event()

    def hold_the_slot():
        client = openai.OpenAI(base_url=gateway.openai_base, api_key=QUEUED_KEY, max_retries=0)
        for _ in client.chat.completions.create(model="short-slow-stream", messages=MESSAGES, stream=True):
            pass
        holder_done.set()

    holder = threading.Thread(target=hold_the_slot)
    holder.start()
    time.sleep(0.3)  # the holder has the key's only slot
    oa = openai.OpenAI(base_url=gateway.openai_base, api_key=QUEUED_KEY, max_retries=0)
    text = "".join(
        chunk.choices[0].delta.content or ""
        for chunk in oa.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
        if chunk.choices
    )
    assert text == "Hello from the fake upstream."
    assert holder_done.is_set(), "the second request waited for the first to finish"
    holder.join()

    holder = threading.Thread(target=hold_the_slot)
    holder_done.clear()
    holder.start()
    time.sleep(0.3)
    an = anthropic.Anthropic(base_url=gateway.anthropic_base, api_key=QUEUED_KEY, max_retries=0)
    with an.messages.stream(model="claude-sonnet-4-5", max_tokens=64, messages=MESSAGES) as stream:
        assert "".join(stream.text_stream) == "Hello from the fake upstream."
        assert stream.get_final_message().usage.output_tokens == 9
    holder.join()


def test_users_and_groups_from_the_cli(gateway):
    out, _ = gateway.cli("groups", "create", "e2e-pro", "--settings", '{"multiplier": 1.5, "subscription": {"monthly_usd": 10}}')
    assert json.loads(out)["multiplier"] == "1.5"
    out, _ = gateway.cli("users", "create", "e2e-alice", "--settings", '{"group": "e2e-pro", "balance_usd": "2"}')
    assert json.loads(out)["balance_usd"] == "2"
    gateway.cli("users", "topup", "e2e-alice", "1")
    gateway.cli("users", "deduct", "e2e-alice", "100", expect_code=2)
    users = {row["name"]: row for row in json.loads(gateway.cli("users", "list")[0])}
    assert users["e2e-alice"]["balance_usd"] == "3" and users["e2e-alice"]["group"] == "e2e-pro"
