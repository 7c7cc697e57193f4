"""The official openai SDK's Responses API, unmodified, through the gateway."""
import json

import openai
import pytest

from conftest import KEY, expected_cost_picos

TEXT = "Hello from the fake upstream."
TOOLS = [{
    "type": "function", "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}]


@pytest.fixture
def client(gateway):
    return openai.OpenAI(base_url=gateway.openai_base, api_key=KEY, max_retries=0)


def test_create_returns_the_text_and_bills_its_usage(client, gateway, prices):
    raw = client.responses.with_raw_response.create(model="gpt-4o-mini", input="Say hello")
    response = raw.parse()
    assert response.output_text == TEXT
    assert response.usage.input_tokens == 21 and response.usage.output_tokens == 9
    row = gateway.ledger_row(raw.headers["x-request-id"])
    assert (row["dialect"], row["account_name"], row["input_uncached"], row["output"]) == ("openai_responses", "openai-1", 21, 9)
    assert row["cost_picos"] == expected_cost_picos(prices, "gpt-4o-mini", uncached=21, output=9)


def test_stream_helper_sees_every_typed_event_and_the_final_response(client, gateway):
    with client.responses.stream(model="gpt-4o-mini", input="Say hello") as stream:
        types = [event.type for event in stream]
        final = stream.get_final_response()
    assert types[0] == "response.created" and types[-1] == "response.completed"
    assert "response.output_text.delta" in types and "response.output_item.done" in types
    assert final.output_text == TEXT and final.usage.output_tokens == 9


def test_function_calls_come_back_whole_and_streamed(client):
    response = client.responses.create(model="gpt-4o-mini", input="Weather in Paris?", tools=TOOLS)
    call = response.output[0]
    assert call.type == "function_call" and call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}

    with client.responses.stream(model="gpt-4o-mini", input="Weather in Paris?", tools=TOOLS) as stream:
        deltas = [event.delta for event in stream if event.type == "response.function_call_arguments.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == '{"city":"Paris"}'
    assert final.output[0].type == "function_call" and final.output[0].call_id == call.call_id

    # The tool's result goes back with the call it answers.
    follow_up = client.responses.create(model="gpt-4o-mini", input=[
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": "18C, sunny"},
    ])
    assert follow_up.output_text == TEXT


def test_a_tool_output_without_its_call_is_a_bad_request_that_says_how_to_fix_it(client):
    with pytest.raises(openai.BadRequestError) as raised:
        client.responses.create(model="gpt-4o-mini", input=[{"type": "function_call_output", "call_id": "call_x", "output": "1"}])
    assert raised.value.status_code == 400
    assert "previous_response_id" in raised.value.message and "call_x" in raised.value.message


def test_a_stream_broken_midway_ends_in_response_failed(client, gateway):
    events = list(client.responses.create(model="drop-after-first-chunk", input="hi", stream=True))
    assert events[0].type == "response.created"
    assert events[-1].type == "response.failed" and events[-1].response.status == "failed"
    assert events[-1].response.error.message
