"""Third-party clients (LangChain, pydantic-ai, the OpenAI Agents SDK, LiteLLM)
against the real gateway binary and the fake upstream of tests/sdk_gateway.py.

The fake answers every request with the same text, streamed one word per event;
a request that offers tools gets a call of the first tool with {"city": "Paris"}
instead, unless its last turn brings a tool's result back: that one gets the
text, so a tool loop ends after one call (Sources/SwitchboardTesting/FakeAnswer.swift).
"""
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sdk_gateway import KEY, gateway  # noqa: E402,F401 (`gateway` is a fixture)

TEXT = "Hello from the fake upstream."
PARIS = {"city": "Paris"}
WEATHER = "Sunny, 21 C"

# Which account format serves each model (see sdk_gateway.py).
OPENAI_MODEL = "gpt-4o-mini"
ANTHROPIC_MODEL = "claude-sonnet-4-5"
GEMINI_MODEL = "gemini-2.5-flash"
MODELS = [OPENAI_MODEL, ANTHROPIC_MODEL, GEMINI_MODEL]
PROVIDERS = {OPENAI_MODEL: "openai", ANTHROPIC_MODEL: "anthropic", GEMINI_MODEL: "gemini"}


# What the ledger calls a client's requests and its streams, by the API it speaks.
DIALECTS = {
    "chat": ("openai_chat", "openai_chat"),
    "responses": ("openai_responses", "openai_responses"),
    "messages": ("anthropic_messages", "anthropic_messages"),
    "gemini": ("gemini_generate", "gemini_stream"),
}


class Case(NamedTuple):
    """One client pointed at the gateway for one model."""

    client: object
    model: str
    dialect: str
    stream_dialect: str


def client_params(clients):
    """The parameters of a suite whose CLIENTS map a name to (make, api, native
    model): each client on its own format's model first, then on the two that
    the gateway translates to."""
    return [
        pytest.param((name, model), id=f"{name}-{model}")
        for name, (_, _, native) in clients.items()
        for model in [native] + [model for model in MODELS if model != native]
    ]


def pytest_generate_tests(metafunc):
    """A test that takes `case` runs once per parameter of its module's CLIENTS."""
    if "case" in metafunc.fixturenames:
        metafunc.parametrize("case", client_params(metafunc.module.CLIENTS), indirect=True)


@pytest.fixture
def case(request, gateway):
    """One client of the module's CLIENTS, made by its `make(gateway, model)`."""
    name, model = request.param
    make, api, _ = request.module.CLIENTS[name]
    return Case(make(gateway, model), model, *DIALECTS[api])


def pytest_configure(config):
    # LiteLLM's and pydantic's import-time noise, not the tests'.
    config.addinivalue_line("filterwarnings", "ignore:.*ReadOnly.*:UserWarning")


class Weather:
    """The tool every loop offers (`get_weather`); it remembers how it was called."""

    def __init__(self):
        self.calls = []

    def get_weather(self, city: str) -> str:
        """The current weather in a city."""
        self.calls.append({"city": city})
        return WEATHER


@pytest.fixture
def weather():
    return Weather()


class Ledger:
    """Checks that every request a test made left exactly one ledger row."""

    def __init__(self, gateway):
        self.gateway = gateway
        self.mark = gateway.ledger_mark()

    def expect(self, model, requests):
        """Asserts one row per request since the last check: a row for each
        `(dialect, streamed)` in `requests`, in order, each for `model` on its
        provider's account, answered."""
        rows = self.gateway.ledger_rows_since(self.mark, len(requests))
        seen = [(row["model"], row["provider"], row["dialect"], row["status"], row["outcome"], bool(row["stream"])) for row in rows]
        assert seen == [(model, PROVIDERS[model], dialect, 200, "ok", stream) for dialect, stream in requests]
        for row in rows:  # request_id is the table's key: one row per request
            assert row["output"] > 0 and row["cost_picos"] > 0
        self.mark = max(self.mark, self.gateway.ledger_mark())
        return rows


@pytest.fixture
def ledger(gateway):
    return Ledger(gateway)
