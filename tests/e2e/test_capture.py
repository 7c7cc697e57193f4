"""Request capture (`capture:` in the config): a captured key's request and
response bodies, redacted, cut to max_bytes, sealed on disk, shown by request id."""
import sqlite3

import openai

from sdk_gateway import CAPTURED_KEY, KEY
from test_budget_shapes import MESSAGES, admin


def test_a_captured_keys_bodies_are_redacted_sealed_and_shown_by_request_id(gateway):
    client = openai.OpenAI(base_url=gateway.openai_base, api_key=CAPTURED_KEY, max_retries=0)
    answer = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, max_tokens=16, extra_body={"metadata": {"password": "hunter2-do-not-keep"}})
    request_id = answer.headers["x-request-id"]
    gateway.ledger_row(request_id)
    status, capture = admin(gateway, "GET", f"/requests/{request_id}/capture")
    assert status == 200, capture
    assert "hunter2-do-not-keep" not in capture["request"] and '"password":"[redacted]"' in capture["request"]
    assert "Say hello" in capture["request"] and not capture["request_truncated"]
    assert "Hello from the fake upstream." in capture["response"]
    with sqlite3.connect(gateway.db_path) as db:
        sealed = db.execute("SELECT sealed FROM captures WHERE request_id = ?", (request_id,)).fetchone()[0]
    assert b"Say hello" not in sealed and b"Hello from the fake" not in sealed, "sealed at rest"
    out, _ = gateway.cli("capture", request_id)
    assert '[redacted]' in out and "hunter2-do-not-keep" not in out, "the CLI opens it with the master key too"


def test_a_captured_stream_keeps_the_events_the_client_got_up_to_max_bytes(gateway):
    client = openai.OpenAI(base_url=gateway.openai_base, api_key=CAPTURED_KEY, max_retries=0)
    with client.chat.completions.with_streaming_response.create(model="short-slow-stream", messages=MESSAGES, stream=True) as response:
        request_id = response.headers["x-request-id"]
        for _ in response.iter_lines():
            pass
    gateway.ledger_row(request_id)
    status, capture = admin(gateway, "GET", f"/requests/{request_id}/capture")
    assert status == 200, capture
    assert capture["response"].startswith("data: ") and capture["response_truncated"]
    assert len(capture["response"].encode()) <= 1024


def test_keys_not_captured_leave_nothing(gateway):
    client = openai.OpenAI(base_url=gateway.openai_base, api_key=KEY, max_retries=0)
    answer = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=16)
    gateway.ledger_row(answer.headers["x-request-id"])
    status, error = admin(gateway, "GET", f"/requests/{answer.headers['x-request-id']}/capture")
    assert status == 404 and "no capture" in error["error"]["message"]
