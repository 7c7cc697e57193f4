"""The official google-genai SDK, unmodified, through the gateway."""
import pytest
from google import genai
from google.genai import errors, types

from conftest import KEY

TEXT = "Hello from the fake upstream."


@pytest.fixture(params=["default", "v1beta"])
def client(gateway, request):
    """The SDK as users leave it (google-genai 3.x speaks `/v1`), and pinned to `/v1beta`."""
    options = types.HttpOptions(base_url=gateway.gemini_base)
    if request.param == "v1beta":
        options = types.HttpOptions(base_url=gateway.gemini_base, api_version="v1beta")
    return genai.Client(api_key=KEY, http_options=options)


def test_generate_content_and_its_ledger_row(client, gateway):
    response = client.models.generate_content(model="gemini-2.5-flash", contents="Say hello")
    assert response.text == TEXT
    assert response.usage_metadata.prompt_token_count == 21 and response.usage_metadata.candidates_token_count == 9
    row = gateway.ledger_row(response.sdk_http_response.headers["x-request-id"])
    assert (row["dialect"], row["account_name"], row["input_uncached"], row["output"], row["outcome"]) == ("gemini_generate", "gemini-1", 21, 9, "ok")


def test_streaming_gives_the_whole_text_and_final_usage(client):
    chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash", contents="Say hello"))
    assert "".join(chunk.text or "" for chunk in chunks) == TEXT
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert chunks[-1].usage_metadata.total_token_count == 30


def test_function_calls_come_back(client):
    tool = types.Tool(function_declarations=[types.FunctionDeclaration(
        name="get_weather", description="Weather in a city",
        parameters=types.Schema(type="OBJECT", properties={"city": types.Schema(type="STRING")}))])
    response = client.models.generate_content(
        model="gemini-2.5-flash", contents="Weather in Paris?", config=types.GenerateContentConfig(tools=[tool]))
    call = response.function_calls[0]
    assert call.name == "get_weather" and call.args == {"city": "Paris"}


def test_count_tokens_and_models(client):
    assert client.models.count_tokens(model="gemini-2.5-flash", contents="Say hello").total_tokens == 21
    names = [model.name for model in client.models.list()]
    assert "models/gemini-2.5-flash" in names
    assert "models/gpt-4o-mini" in names and "models/claude-sonnet-4-5" in names, "other formats are translated"


def test_errors_arrive_as_the_sdks_own_exceptions(gateway):
    bad = genai.Client(api_key="wrong", http_options=types.HttpOptions(base_url=gateway.gemini_base, api_version="v1beta"))
    with pytest.raises(errors.ClientError) as raised:
        bad.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert raised.value.code == 401 and raised.value.status == "UNAUTHENTICATED"
    good = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=gateway.gemini_base, api_version="v1beta"))
    with pytest.raises(errors.ClientError) as raised:
        good.models.generate_content(model="no-such-model", contents="hi")
    assert raised.value.code == 404
