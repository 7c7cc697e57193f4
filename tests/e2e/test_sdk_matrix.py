"""Every official SDK against every provider kind, through translation where the
provider speaks another format: what the SDK hands back, tool calls and usage
included, streaming helpers included."""
import json

import anthropic
import openai
import pytest
from google import genai
from google.genai import types

from conftest import KEY

TEXT = "Hello from the fake upstream."
MODELS = ["gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash"]
PARAMETERS = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
PARIS = {"city": "Paris"}


@pytest.fixture
def gemini_client(gateway):
    return genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=gateway.gemini_base, api_version="v1beta"))


@pytest.mark.parametrize("model", MODELS)
def test_openai_chat(openai_client, gateway, model):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}]
    raw = openai_client.chat.completions.with_raw_response.create(model=model, messages=messages)
    completion = raw.parse()
    assert completion.choices[0].message.content == TEXT and completion.choices[0].finish_reason == "stop"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (21, 9)
    assert gateway.ledger_row(raw.headers["x-request-id"])["output"] == 9

    with openai_client.chat.completions.stream(model=model, messages=messages, stream_options={"include_usage": True}) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == TEXT and final.usage.completion_tokens == 9

    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": PARAMETERS}}]
    called = openai_client.chat.completions.create(model=model, messages=messages, tools=tools)
    call = called.choices[0].message.tool_calls[0]
    assert called.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == PARIS
    with openai_client.chat.completions.stream(model=model, messages=messages, tools=tools) as stream:
        final = stream.get_final_completion()
    streamed = final.choices[0].message.tool_calls[0]
    assert streamed.function.name == "get_weather" and json.loads(streamed.function.arguments) == PARIS

    # The tool's result goes back; the conversation continues on the same model.
    follow_up = openai_client.chat.completions.create(model=model, tools=tools, messages=messages + [
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "18C, sunny"},
    ])
    assert follow_up.choices[0].message.content == TEXT or follow_up.choices[0].message.tool_calls


@pytest.mark.parametrize("model", MODELS)
def test_openai_responses(openai_client, model):
    response = openai_client.responses.create(model=model, instructions="Be brief.", input="Say hello")
    assert response.output_text == TEXT and response.usage.output_tokens == 9
    with openai_client.responses.stream(model=model, input="Say hello") as stream:
        types_seen = [event.type for event in stream]
        final = stream.get_final_response()
    assert types_seen[0] == "response.created" and types_seen[-1] == "response.completed"
    assert final.output_text == TEXT

    tools = [{"type": "function", "name": "get_weather", "parameters": PARAMETERS}]
    called = openai_client.responses.create(model=model, input="Weather in Paris?", tools=tools)
    call = next(item for item in called.output if item.type == "function_call")
    assert call.name == "get_weather" and json.loads(call.arguments) == PARIS
    with openai_client.responses.stream(model=model, input="Weather in Paris?", tools=tools) as stream:
        final = stream.get_final_response()
    streamed = next(item for item in final.output if item.type == "function_call")
    assert streamed.name == "get_weather" and json.loads(streamed.arguments) == PARIS


@pytest.mark.parametrize("model", MODELS)
def test_anthropic_messages(anthropic_client, model):
    message = anthropic_client.messages.create(
        model=model, max_tokens=256, system="Be brief.", messages=[{"role": "user", "content": "Say hello"}])
    assert message.content[0].text == TEXT and message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (21, 9)
    with anthropic_client.messages.stream(model=model, max_tokens=256, messages=[{"role": "user", "content": "Say hello"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == TEXT and final.usage.output_tokens == 9 and final.usage.input_tokens == 21

    tools = [{"name": "get_weather", "description": "Weather", "input_schema": PARAMETERS}]
    called = anthropic_client.messages.create(
        model=model, max_tokens=256, tools=tools, messages=[{"role": "user", "content": "Weather in Paris?"}])
    use = next(block for block in called.content if block.type == "tool_use")
    assert called.stop_reason == "tool_use" and use.name == "get_weather" and use.input == PARIS
    with anthropic_client.messages.stream(
            model=model, max_tokens=256, tools=tools, messages=[{"role": "user", "content": "Weather in Paris?"}]) as stream:
        final = stream.get_final_message()
    streamed = next(block for block in final.content if block.type == "tool_use")
    assert streamed.name == "get_weather" and streamed.input == PARIS

    follow_up = anthropic_client.messages.create(model=model, max_tokens=256, tools=tools, messages=[
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": use.id, "name": use.name, "input": use.input}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "18C, sunny"}]},
    ])
    assert follow_up.content


@pytest.mark.parametrize("model", MODELS)
def test_google_genai(gemini_client, model):
    config = types.GenerateContentConfig(system_instruction="Be brief.", max_output_tokens=256)
    response = gemini_client.models.generate_content(model=model, contents="Say hello", config=config)
    assert response.text == TEXT
    assert (response.usage_metadata.prompt_token_count, response.usage_metadata.candidates_token_count) == (21, 9)
    chunks = list(gemini_client.models.generate_content_stream(model=model, contents="Say hello", config=config))
    assert "".join(chunk.text or "" for chunk in chunks) == TEXT
    assert chunks[-1].usage_metadata.total_token_count == 30

    tool = types.Tool(function_declarations=[types.FunctionDeclaration(
        name="get_weather", description="Weather",
        parameters=types.Schema(type="OBJECT", properties={"city": types.Schema(type="STRING")}, required=["city"]))])
    tools_config = types.GenerateContentConfig(tools=[tool], automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True))
    called = gemini_client.models.generate_content(model=model, contents="Weather in Paris?", config=tools_config)
    assert called.function_calls[0].name == "get_weather" and called.function_calls[0].args == PARIS
    streamed = [call for chunk in gemini_client.models.generate_content_stream(
        model=model, contents="Weather in Paris?", config=tools_config) for call in (chunk.function_calls or [])]
    assert streamed[0].name == "get_weather" and streamed[0].args == PARIS

    follow_up = gemini_client.models.generate_content(model=model, config=tools_config, contents=[
        types.Content(role="user", parts=[types.Part(text="Weather in Paris?")]),
        types.Content(role="model", parts=[types.Part(function_call=types.FunctionCall(name="get_weather", args=PARIS))]),
        types.Content(role="user", parts=[types.Part(function_response=types.FunctionResponse(name="get_weather", response={"result": "18C"}))]),
    ])
    assert follow_up.candidates


def test_what_cannot_be_carried_is_refused_in_the_clients_format(openai_client, anthropic_client):
    with pytest.raises(openai.BadRequestError) as raised:
        openai_client.chat.completions.create(
            model="claude-sonnet-4-5", messages=[{"role": "user", "content": "hi"}], logprobs=True)
    assert "logprobs" in raised.value.message
    with pytest.raises(anthropic.BadRequestError) as refused:
        anthropic_client.messages.create(
            model="gpt-4o-mini", max_tokens=64, messages=[{"role": "user", "content": "hi"}],
            tools=[{"type": "web_search_20250305", "name": "web_search"}])
    assert "web_search_20250305" in refused.value.message


@pytest.mark.parametrize("model", ["text-embedding-3-small", "gemini-embedding-001"])
def test_openai_embeddings_from_openai_and_gemini_accounts(openai_client, gateway, model):
    # The SDK asks for base64 by default and decodes little-endian float32.
    raw = openai_client.embeddings.with_raw_response.create(model=model, input=["hello", "world"])
    result = raw.parse()
    assert [item.embedding for item in result.data] == [[0.25, -0.5, 1.0]] * 2
    assert result.usage.prompt_tokens > 0
    row = gateway.ledger_row(raw.headers["x-request-id"])
    assert row["dialect"] == "openai_embeddings" and row["input_uncached"] == result.usage.prompt_tokens
