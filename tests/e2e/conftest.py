"""The SDK tests' fixtures. The gateway itself (fake upstream, accounts, keys,
ledger helpers) lives in tests/sdk_gateway.py, shared with tests/clients.
"""
import json
import sys
from decimal import Decimal
from pathlib import Path

import anthropic
import openai
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gateway_process import BIN, ROOT  # noqa: E402,F401 (BIN re-exported for the CLI tests)
from sdk_gateway import (  # noqa: E402,F401 (re-exported: the tests import these from conftest; `gateway` is a fixture)
    ADMIN_TOKEN, ANTHROPIC_SECRET, BROKE_KEY, FAULT_MODELS, GEMINI_SECRET, KEY, OPENAI_SECRET, QUEUED_KEY, Gateway, gateway,
)


@pytest.fixture(scope="session")
def prices():
    return json.loads((ROOT / "Sources" / "Policy" / "Resources" / "model_prices.json").read_text())


def expected_cost_picos(prices, model, uncached=0, cache_read=0, cache_write_5m=0, output=0):
    """The exact cost in picodollars, from the bundled LiteLLM-format table."""
    entry = prices[model]
    rate = lambda field: Decimal(str(entry[field])) * Decimal(10) ** 12
    total = uncached * rate("input_cost_per_token") + output * rate("output_cost_per_token")
    if cache_read:
        total += cache_read * rate("cache_read_input_token_cost")
    if cache_write_5m:
        total += cache_write_5m * rate("cache_creation_input_token_cost")
    assert total == total.to_integral_value()
    return int(total)


@pytest.fixture
def openai_client(gateway):
    """The official openai SDK pointed at the gateway, no retries."""
    return openai.OpenAI(base_url=gateway.openai_base, api_key=KEY, max_retries=0)


@pytest.fixture
def anthropic_client(gateway):
    """The official anthropic SDK pointed at the gateway, no retries."""
    return anthropic.Anthropic(base_url=gateway.anthropic_base, api_key=KEY, max_retries=0)
