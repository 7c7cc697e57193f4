"""pydantic-ai agents on each of its model classes pointed at the gateway
(OpenAI Chat Completions, OpenAI Responses, Anthropic, Google), each on a model
of its own format and on the two that the gateway translates to."""
import asyncio

from pydantic_ai import Agent
from pydantic_ai.messages import ToolCallPart, ToolReturnPart
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.models.google import GoogleModel
from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel
from pydantic_ai.providers.anthropic import AnthropicProvider
from pydantic_ai.providers.google import GoogleProvider
from pydantic_ai.providers.openai import OpenAIProvider

from conftest import ANTHROPIC_MODEL, GEMINI_MODEL, KEY, OPENAI_MODEL, PARIS, TEXT, WEATHER


def openai_chat(gateway, model):
    return OpenAIChatModel(model, provider=OpenAIProvider(base_url=gateway.openai_base, api_key=KEY))


def openai_responses(gateway, model):
    return OpenAIResponsesModel(model, provider=OpenAIProvider(base_url=gateway.openai_base, api_key=KEY))


def anthropic(gateway, model):
    # A small max_tokens: with a model's large default pydantic-ai streams even
    # a plain request (then its ledger row says streamed).
    provider = AnthropicProvider(base_url=gateway.anthropic_base, api_key=KEY)
    return AnthropicModel(model, provider=provider, settings={"max_tokens": 1024})


def google(gateway, model):
    return GoogleModel(model, provider=GoogleProvider(base_url=gateway.gemini_base, api_key=KEY))


# Each model class: how it is made, the API it speaks, its own format's model.
CLIENTS = {
    "OpenAIChatModel": (openai_chat, "chat", OPENAI_MODEL),
    "OpenAIResponsesModel": (openai_responses, "responses", OPENAI_MODEL),
    "AnthropicModel": (anthropic, "messages", ANTHROPIC_MODEL),
    "GoogleModel": (google, "gemini", GEMINI_MODEL),
}


def test_answer(case, ledger):
    model_client, model, dialect, _ = case
    result = Agent(model_client, instructions="Be brief.").run_sync("Say hello")
    assert result.output == TEXT
    assert result.usage.output_tokens == 9
    ledger.expect(model, [(dialect, False)])


def test_stream(case, ledger):
    model_client, model, _, stream_dialect = case

    async def run():
        async with Agent(model_client).run_stream("Say hello") as result:
            return [delta async for delta in result.stream_text(delta=True, debounce_by=None)]

    deltas = asyncio.run(run())
    assert len(deltas) > 1, "the answer came in one piece"
    assert "".join(deltas) == TEXT
    ledger.expect(model, [(stream_dialect, True)])


def test_tool_loop(case, ledger, weather):
    model_client, model, dialect, _ = case
    agent = Agent(model_client, tools=[weather.get_weather])
    result = agent.run_sync("What is the weather in Paris?")
    assert weather.calls == [PARIS]
    parts = [part for message in result.all_messages() for part in message.parts]
    calls = [(part.tool_name, part.args_as_dict()) for part in parts if isinstance(part, ToolCallPart)]
    assert calls == [("get_weather", PARIS)]
    assert [part.content for part in parts if isinstance(part, ToolReturnPart)] == [WEATHER]
    assert result.output == TEXT
    ledger.expect(model, [(dialect, False), (dialect, False)])
