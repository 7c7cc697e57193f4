"""Structured output through every official SDK's own helper, to every provider
kind: the SDK hands back the parsed object, whole and streamed. A model served
in another format gets the schema in that provider's own field (the fake
upstream answers JSON only when it finds it there), so each test shows the
translation, not a pass-through."""
import json

import openai
import pytest
from google import genai
from google.genai import types

from conftest import KEY
from weather_report import REPORT as EXPECTED, Report as Weather

MODELS = ["gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash"]
PROMPT = "What is the weather in Paris?"


@pytest.fixture
def gemini_client(gateway):
    """google-genai as users leave it: its default API version."""
    return genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=gateway.gemini_base))


@pytest.mark.parametrize("model", MODELS)
def test_openai_parse(openai_client, gateway, model):
    completion = openai_client.chat.completions.parse(
        model=model, messages=[{"role": "user", "content": PROMPT}], response_format=Weather
    )
    assert completion.choices[0].message.parsed == EXPECTED
    row = gateway.ledger_row(completion._request_id)
    assert row["outcome"] == "ok" and row["model"] == model


@pytest.mark.parametrize("model", MODELS)
def test_openai_parse_streamed(openai_client, model):
    with openai_client.chat.completions.stream(
        model=model, messages=[{"role": "user", "content": PROMPT}], response_format=Weather
    ) as stream:
        pieces = [event.delta for event in stream if event.type == "content.delta"]
        final = stream.get_final_completion()
    assert len(pieces) > 1, "the JSON arrived in pieces"
    assert final.choices[0].message.parsed == EXPECTED


@pytest.mark.parametrize("model", MODELS)
def test_openai_responses_parse(openai_client, model):
    response = openai_client.responses.parse(model=model, input=PROMPT, text_format=Weather)
    assert response.output_parsed == EXPECTED


@pytest.mark.parametrize("model", MODELS)
def test_anthropic_parse(anthropic_client, model):
    message = anthropic_client.messages.parse(
        model=model, max_tokens=256, messages=[{"role": "user", "content": PROMPT}], output_format=Weather
    )
    assert message.parsed_output == EXPECTED


@pytest.mark.parametrize("model", MODELS)
def test_anthropic_parse_streamed(anthropic_client, model):
    with anthropic_client.messages.stream(
        model=model, max_tokens=256, messages=[{"role": "user", "content": PROMPT}], output_format=Weather
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert Weather.model_validate_json(text) == EXPECTED
    assert final.parsed_output == EXPECTED


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("schema_field", ["response_schema", "response_json_schema"])
def test_gemini_parsed(gemini_client, model, schema_field):
    schema = Weather if schema_field == "response_schema" else Weather.model_json_schema()
    config = types.GenerateContentConfig(response_mime_type="application/json", **{schema_field: schema})
    response = gemini_client.models.generate_content(model=model, contents=PROMPT, config=config)
    assert Weather.model_validate_json(response.text) == EXPECTED
    if schema_field == "response_schema":
        assert response.parsed == EXPECTED


@pytest.mark.parametrize("model", MODELS)
def test_gemini_streamed(gemini_client, model):
    config = types.GenerateContentConfig(response_mime_type="application/json", response_schema=Weather)
    chunks = list(gemini_client.models.generate_content_stream(model=model, contents=PROMPT, config=config))
    assert len(chunks) > 1
    assert Weather.model_validate_json("".join(chunk.text or "" for chunk in chunks)) == EXPECTED


@pytest.mark.parametrize("model", ["claude-sonnet-4-5", "gemini-2.5-flash"])
def test_json_mode_without_a_schema(openai_client, model):
    """OpenAI's JSON mode: carried to Gemini; Anthropic has none, so it is refused naming the field."""
    messages = [{"role": "user", "content": "Answer in JSON."}]
    if model.startswith("claude"):
        with pytest.raises(openai.BadRequestError) as refused:
            openai_client.chat.completions.create(model=model, messages=messages, response_format={"type": "json_object"})
        assert refused.value.body["param"] == "response_format"
        return
    completion = openai_client.chat.completions.create(model=model, messages=messages, response_format={"type": "json_object"})
    assert isinstance(json.loads(completion.choices[0].message.content), dict)
