"""LiteLLM as a client SDK (`litellm.completion`, not its proxy) pointed at the
gateway through each of its provider routes (`openai/`, `anthropic/`,
`gemini/`), each on a model of that format and on the two that the gateway
translates to."""
import json
import os

# The price table ships in the wheel; without this LiteLLM fetches it from the
# network at import (which only fails over to the bundled copy).
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # noqa: E402
import pytest  # noqa: E402

from conftest import ANTHROPIC_MODEL, GEMINI_MODEL, KEY, OPENAI_MODEL, PARIS, TEXT, WEATHER  # noqa: E402


def route(prefix, base):
    """`litellm.completion` through one provider route, with the base URL it wants."""
    def make(gateway, model):
        def completion(**kwargs):
            return litellm.completion(
                model=f"{prefix}/{model}", api_base=base(gateway), api_key=KEY, max_tokens=256, num_retries=0, **kwargs)
        return completion
    return make


# Each provider route: how it is called, the API it speaks, its own format's model.
CLIENTS = {
    "openai": (route("openai", lambda gateway: gateway.openai_base), "chat", OPENAI_MODEL),
    "anthropic": (route("anthropic", lambda gateway: gateway.anthropic_base), "messages", ANTHROPIC_MODEL),
    "gemini": (route("gemini", lambda gateway: gateway.gemini_base + "/v1beta"), "gemini", GEMINI_MODEL),
}
TOOLS = [{
    "type": "function",
    "function": {
        "name": "get_weather", "description": "The current weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}]


def test_answer(case, ledger):
    completion, model, dialect, _ = case
    response = completion(messages=[{"role": "user", "content": "Say hello"}])
    assert response.choices[0].message.content == TEXT
    assert response.usage.completion_tokens == 9
    ledger.expect(model, [(dialect, False)])


def test_stream(case, ledger):
    completion, model, _, stream_dialect = case
    chunks = list(completion(messages=[{"role": "user", "content": "Say hello"}], stream=True))
    deltas = [chunk.choices[0].delta.content for chunk in chunks if chunk.choices and chunk.choices[0].delta.content]
    assert len(deltas) > 1, "the answer came in one piece"
    assert "".join(deltas) == TEXT
    ledger.expect(model, [(stream_dialect, True)])


def test_tool_loop(case, ledger, weather):
    completion, model, dialect, _ = case
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    called = completion(messages=messages, tools=TOOLS).choices[0].message
    calls = [(call.function.name, json.loads(call.function.arguments)) for call in called.tool_calls]
    assert calls == [("get_weather", PARIS)]
    messages.append(called.model_dump(exclude_none=True))
    for call in called.tool_calls:
        result = weather.get_weather(**json.loads(call.function.arguments))
        messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    assert weather.calls == [PARIS] and messages[-1]["content"] == WEATHER
    final = completion(messages=messages, tools=TOOLS)
    assert final.choices[0].message.content == TEXT
    ledger.expect(model, [(dialect, False), (dialect, False)])
