"""The official openai SDK, unmodified, through the gateway."""
import openai
import pytest

from conftest import KEY, expected_cost_picos

TEXT = "Hello from the fake upstream."
MESSAGES = [{"role": "user", "content": "Say hello"}]


@pytest.fixture
def client(gateway):
    return openai.OpenAI(base_url=gateway.openai_base, api_key=KEY, max_retries=0)


def test_chat_completion_and_its_ledger_row(client, gateway, prices):
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    completion = raw.parse()
    assert completion.choices[0].message.content == TEXT
    assert completion.usage.prompt_tokens == 21 and completion.usage.completion_tokens == 9
    request_id = raw.headers["x-request-id"]
    row = gateway.ledger_row(request_id)
    assert row["key_name"] == "e2e" and row["account_name"] == "openai-1" and row["model"] == "gpt-4o-mini"
    assert (row["input_uncached"], row["output"], row["stream"], row["status"]) == (21, 9, 0, 200)
    assert row["cost_picos"] == expected_cost_picos(prices, "gpt-4o-mini", uncached=21, output=9)
    assert gateway.ledger_count(request_id) == 1


def test_streaming_without_usage_never_shows_the_usage_chunk(client, gateway):
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    chunks = list(stream)
    assert all(chunk.choices for chunk in chunks), "clients index choices[0]; the usage chunk must not reach them"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == TEXT
    assert chunks[-1].choices[0].finish_reason == "stop"
    row = gateway.ledger_row(stream.response.headers["x-request-id"])
    assert (row["input_uncached"], row["output"], row["stream"], row["outcome"]) == (21, 9, 1, "ok")


def test_streaming_with_usage_requested(client):
    chunks = list(client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}))
    assert chunks[-1].choices == []
    assert chunks[-1].usage.prompt_tokens == 21 and chunks[-1].usage.completion_tokens == 9


def test_streaming_helper(client):
    with client.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == TEXT


def test_models_list(client):
    ids = [model.id for model in client.models.list()]
    assert "gpt-4o-mini" in ids and "claude-sonnet-4-5" in ids and "gemini-2.5-flash" in ids, "every model, other formats translated"
    assert ids == sorted(ids)


def test_a_bad_key_is_an_authentication_error(gateway):
    bad = openai.OpenAI(base_url=gateway.openai_base, api_key="sk-sb-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        bad.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert caught.value.status_code == 401
    assert caught.value.request_id and caught.value.request_id.startswith("req_")
    assert "sk-sb-wrong" not in str(caught.value)


def test_an_unknown_model_is_not_found(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-imaginary", messages=MESSAGES)
    assert caught.value.code == "model_not_found"


def test_upstream_rate_limit_reaches_the_client_with_retry_after(client):
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="fail-429", messages=MESSAGES)
    assert caught.value.response.headers["retry-after"] == "7"


def test_a_stream_broken_midway_raises_in_the_sdk(client, gateway):
    stream = client.chat.completions.create(model="drop-after-first-chunk", messages=MESSAGES, stream=True)
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass
    row = gateway.ledger_row(stream.response.headers["x-request-id"])
    assert row["outcome"] == "upstream_error" and row["usage_incomplete"] == 1


def test_embeddings_with_the_sdks_default_base64_encoding(gateway):
    client = openai.OpenAI(base_url=gateway.openai_base, api_key=KEY, max_retries=0)
    raw = client.embeddings.with_raw_response.create(model="text-embedding-3-small", input=["one", "two"])
    result = raw.parse()
    assert [item.embedding for item in result.data] == [[0.25, -0.5, 1.0], [0.25, -0.5, 1.0]]
    assert result.usage.prompt_tokens == 16
    row = gateway.ledger_row(raw.headers["x-request-id"])
    assert row["dialect"] == "openai_embeddings" and row["input_uncached"] == 16 and row["cost_picos"] == 16 * 20_000
