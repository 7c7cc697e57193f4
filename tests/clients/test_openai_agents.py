"""The OpenAI Agents SDK (`openai-agents`) pointed at the gateway, on both of its
model classes (Responses, the default, and Chat Completions), each on a model
of the OpenAI format and on the two that the gateway translates to."""
import asyncio
import json

from agents import Agent, OpenAIChatCompletionsModel, OpenAIResponsesModel, Runner, function_tool, set_tracing_disabled
from agents.items import ToolCallItem, ToolCallOutputItem
from openai import AsyncOpenAI
from openai.types.responses import ResponseTextDeltaEvent

from conftest import KEY, OPENAI_MODEL, PARIS, TEXT, WEATHER

# Traces would go to OpenAI's servers (which this machine cannot reach), and
# could carry the Switchboard key there: see docs/CLIENTS.md.
set_tracing_disabled(True)


def responses(gateway, model):
    return OpenAIResponsesModel(model=model, openai_client=AsyncOpenAI(base_url=gateway.openai_base, api_key=KEY, max_retries=0))


def chat_completions(gateway, model):
    return OpenAIChatCompletionsModel(model=model, openai_client=AsyncOpenAI(base_url=gateway.openai_base, api_key=KEY, max_retries=0))


# Each model class: how it is made, the API it speaks, its own format's model.
CLIENTS = {
    "OpenAIResponsesModel": (responses, "responses", OPENAI_MODEL),
    "OpenAIChatCompletionsModel": (chat_completions, "chat", OPENAI_MODEL),
}


def test_answer(case, ledger):
    model_client, model, dialect, _ = case
    result = Runner.run_sync(Agent(name="assistant", instructions="Be brief.", model=model_client), "Say hello")
    assert result.final_output == TEXT
    assert result.context_wrapper.usage.output_tokens == 9
    ledger.expect(model, [(dialect, False)])


def test_stream(case, ledger):
    model_client, model, dialect, _ = case

    async def run():
        result = Runner.run_streamed(Agent(name="assistant", model=model_client), "Say hello")
        deltas = [
            event.data.delta async for event in result.stream_events()
            if event.type == "raw_response_event" and isinstance(event.data, ResponseTextDeltaEvent)
        ]
        return deltas, result.final_output

    deltas, final_output = asyncio.run(run())
    assert len(deltas) > 1, "the answer came in one piece"
    assert "".join(deltas) == TEXT == final_output
    ledger.expect(model, [(dialect, True)])


def test_tool_loop(case, ledger, weather):
    model_client, model, dialect, _ = case
    agent = Agent(name="assistant", model=model_client, tools=[function_tool(weather.get_weather)])
    result = Runner.run_sync(agent, "What is the weather in Paris?")
    assert weather.calls == [PARIS]
    calls = [item.raw_item for item in result.new_items if isinstance(item, ToolCallItem)]
    assert [(call.name, json.loads(call.arguments)) for call in calls] == [("get_weather", PARIS)]
    assert [item.output for item in result.new_items if isinstance(item, ToolCallOutputItem)] == [WEATHER]
    assert result.final_output == TEXT
    ledger.expect(model, [(dialect, False), (dialect, False)])
