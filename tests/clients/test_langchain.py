"""LangChain's chat models (ChatOpenAI, ChatAnthropic, ChatGoogleGenerativeAI)
pointed at the gateway, each on a model of its own format and on the two that
the gateway translates to."""
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool
from langchain_google_genai import ChatGoogleGenerativeAI
from langchain_openai import ChatOpenAI

from conftest import ANTHROPIC_MODEL, GEMINI_MODEL, KEY, OPENAI_MODEL, PARIS, TEXT, WEATHER
from weather_report import REPORT, Report


def chat_openai(gateway, model):
    return ChatOpenAI(model=model, base_url=gateway.openai_base, api_key=KEY, max_retries=0)


def chat_anthropic(gateway, model):
    return ChatAnthropic(model=model, base_url=gateway.anthropic_base, api_key=KEY, max_retries=0, max_tokens=256)


def chat_google(gateway, model):
    return ChatGoogleGenerativeAI(model=model, base_url=gateway.gemini_base, api_key=KEY, retries=0)


# Each chat model: how it is made, the API it speaks, its own format's model.
CLIENTS = {
    "ChatOpenAI": (chat_openai, "chat", OPENAI_MODEL),
    "ChatAnthropic": (chat_anthropic, "messages", ANTHROPIC_MODEL),
    "ChatGoogleGenerativeAI": (chat_google, "gemini", GEMINI_MODEL),
}


def test_answer(case, ledger):
    llm, model, dialect, _ = case
    message = llm.invoke([HumanMessage("Say hello")])
    assert message.text == TEXT
    assert message.usage_metadata["output_tokens"] == 9
    ledger.expect(model, [(dialect, False)])


def test_stream(case, ledger):
    llm, model, _, stream_dialect = case
    chunks = list(llm.stream([HumanMessage("Say hello")]))
    assert len([chunk for chunk in chunks if chunk.text]) > 1, "the answer came in one piece"
    assert "".join(chunk.text for chunk in chunks) == TEXT
    ledger.expect(model, [(stream_dialect, True)])


def test_tool_loop(case, ledger, weather):
    llm, model, dialect, _ = case
    get_weather = tool(weather.get_weather)
    with_tools = llm.bind_tools([get_weather])
    messages = [HumanMessage("What is the weather in Paris?")]
    called = with_tools.invoke(messages)
    assert [(call["name"], call["args"]) for call in called.tool_calls] == [("get_weather", PARIS)]
    messages.append(called)
    messages += [get_weather.invoke(call) for call in called.tool_calls]
    assert weather.calls == [PARIS] and messages[-1].content == WEATHER
    final = with_tools.invoke(messages)
    assert final.text == TEXT
    ledger.expect(model, [(dialect, False), (dialect, False)])


def test_structured_output(case, ledger):
    """`with_structured_output` in JSON-schema mode: the schema reaches every
    provider in its own field, and the parsed object comes back."""
    llm, model, dialect, _ = case
    structured = llm.with_structured_output(Report, method="json_schema")
    assert structured.invoke([HumanMessage("What is the weather in Paris?")]) == REPORT
    ledger.expect(model, [(dialect, False)])


def test_structured_output_streamed(case, ledger):
    llm, model, _, stream_dialect = case
    structured = llm.with_structured_output(Report, method="json_schema")
    chunks = list(structured.stream([HumanMessage("What is the weather in Paris?")]))
    assert chunks and Report.model_validate(chunks[-1]) == REPORT
    ledger.expect(model, [(stream_dialect, True)])
