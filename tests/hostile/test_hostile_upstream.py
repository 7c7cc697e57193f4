"""The gateway against an upstream that misbehaves: hangs, resets, floods,
redirects and lies. Every case checks the client's status and error shape, the
request's one ledger row, and (through the autouse check) that the process is
alive and logged no secret."""
import json
import math

import httpx
import pytest

from conftest import (
    BUDGET_KEY, KEY, ROUTES, STREAM_ROUTES, UPSTREAM_SECRET, USAGE_MODELS, assert_openai_error,
    auth, chat, sse_events, stream_path, wait_until,
)
from hostile_upstream import HUGE_JSON_BYTES

INT64_MAX = 2**63 - 1
LONGEST_RETRY_AFTER = 7 * 86_400  # RetryAfter.longest


def post(gateway, model, key=KEY, **extra):
    with httpx.Client(timeout=60) as client:
        return client.post(f"{gateway.base}/v1/chat/completions", headers=auth(key), json=chat(model, **extra))


def failed_row(gateway, response, status, error_code=None):
    row = gateway.row(response.headers["x-request-id"])
    assert row["outcome"] == "upstream_error", row
    assert row["status"] == status, row
    if error_code:
        assert row["error_code"] == error_code, row
    assert row["cost_picos"] == 0, row
    return row


def stream_from(gateway, route, model, on_first_text=None):
    """Streams `model` through `route`; calls `on_first_text` once the first
    generated text reached the client. Returns (response, events)."""
    path = stream_path(route, model)
    _, body, headers, _ = STREAM_ROUTES[route]
    received = ""
    fired = False
    with httpx.Client(timeout=60) as client:
        with client.stream("POST", gateway.base + path, headers={**auth(), **headers}, json=body(model)) as response:
            for text in response.iter_text():
                received += text
                if on_first_text and not fired and "Hello" in received:
                    fired = True
                    on_first_text()
    assert not on_first_text or fired, f"no text reached the client before the break: {received[:500]}"
    return response, sse_events(received)


# ----------------------------------------------------------------- before the head


def test_an_upstream_that_never_answers_gets_504_after_first_byte_timeout(gateway, upstream):
    response = post(gateway, "hang-head")
    assert assert_openai_error(response, 504)["code"] == "upstream_timeout"
    failed_row(gateway, response, 504, "upstream_timeout")
    assert len(upstream.requests_for("hang-head")) >= 1


def test_a_hanging_upstream_is_504_in_the_anthropic_shape_too(gateway):
    path, body, check = ROUTES["anthropic_messages"]
    with httpx.Client(timeout=60) as client:
        response = client.post(gateway.base + path, headers={**auth(), "anthropic-version": "2023-06-01"}, json=body("hang-head"))
    check(response, 504)
    failed_row(gateway, response, 504)


def test_a_hanging_upstream_on_a_stream_request_is_a_504_json_error(gateway):
    # Nothing was sent yet, so the client still gets a status, not a broken stream.
    response = post(gateway, "hang-head", stream=True)
    assert_openai_error(response, 504)
    failed_row(gateway, response, 504)


def test_a_reset_before_the_head_without_another_account_is_503(gateway, upstream):
    response = post(gateway, "rst-head")
    assert assert_openai_error(response, 503)["code"] == "upstream_unavailable"
    row = failed_row(gateway, response, 503, "upstream_unavailable")
    assert row["attempts"] == 1


def test_a_reset_before_the_head_fails_over_to_the_healthy_account(gateway, upstream):
    marker = "failover-marker-7d1"
    response = post(gateway, "rst-failover", marker=marker)
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "Hello from the hostile upstream."
    row = gateway.row(response.headers["x-request-id"])
    assert row["outcome"] == "ok" and row["attempts"] == 2 and row["account_name"] == "acct-failover-healthy", row
    assert "acct-failover-broken=failed(transient)" in (row["route"] or ""), row
    seen = [r.model for r in upstream.requests_containing(marker)]
    assert seen == ["rst-head", "ok"], seen


# ----------------------------------------------------------------- during the stream


@pytest.mark.parametrize("route", list(STREAM_ROUTES))
def test_a_reset_mid_stream_ends_the_stream_with_an_error_event(gateway, upstream, route):
    def cut():
        assert wait_until(lambda: upstream.waiting_at("rst-mid-stream") >= 1, timeout=30)
        upstream.release("rst-mid-stream")

    response, events = stream_from(gateway, route, "rst-mid-stream", on_first_text=cut)
    assert response.status_code == 200
    STREAM_ROUTES[route][3](events)
    row = gateway.row(response.headers["x-request-id"])
    assert row["outcome"] == "upstream_error" and row["status"] == 200, row
    assert row["delivered_bytes"] > 0 and row["usage_source"] != "reported", row


def test_a_stream_that_goes_silent_ends_with_a_timeout_error_event(gateway):
    response, events = stream_from(gateway, "openai_chat", "stall-mid-stream")
    assert response.status_code == 200
    error = STREAM_ROUTES["openai_chat"][3](events)
    assert error["code"] == "upstream_timeout", error
    row = gateway.row(response.headers["x-request-id"])
    assert row["outcome"] == "upstream_error" and row["error_code"] == "idle_timeout", row


@pytest.mark.parametrize("route", ["openai_chat", "anthropic_messages"])
def test_a_20mb_sse_line_ends_the_stream_with_an_error_not_a_crash(gateway, upstream, route):
    before = gateway.rss_kib()
    response, events = stream_from(gateway, route, "huge-sse-line")
    assert response.status_code == 200
    STREAM_ROUTES[route][3](events)
    assert all(len(data) < 1024 * 1024 for _, data in events), "the huge line reached the client"
    row = gateway.row(response.headers["x-request-id"])
    assert row["outcome"] == "upstream_error" and row["error_code"] == "stream_event_too_large", row
    # Bounded, not buffered whole twice over: generous, since allocators keep what they took.
    assert gateway.rss_kib() - before < 256 * 1024


def test_a_20mb_sse_line_before_any_event_is_a_failed_attempt(gateway):
    response = post(gateway, "huge-sse-line-first", stream=True)
    assert_openai_error(response, 503)
    failed_row(gateway, response, 503)


# ----------------------------------------------------------------- big and odd answers


def test_a_70mb_json_answer_with_its_length_declared_is_refused_unread(gateway, upstream):
    sent_before = len(upstream.huge_json_sent)
    response = post(gateway, "huge-json")
    assert response.status_code in (502, 503), response.text
    assert_openai_error(response)
    failed_row(gateway, response, response.status_code)
    assert wait_until(lambda: len(upstream.huge_json_sent) > sent_before, timeout=30)
    sent = upstream.huge_json_sent[-1]
    assert sent < HUGE_JSON_BYTES, "the gateway read the whole 70 MB body it was going to refuse"


def test_a_70mb_json_answer_without_a_length_is_cut_at_the_bound(gateway, upstream):
    response = post(gateway, "huge-json-unframed")
    assert response.status_code in (502, 503), response.text
    assert_openai_error(response)
    failed_row(gateway, response, response.status_code)


@pytest.mark.parametrize("status", [302, 307, 308])
def test_a_redirect_is_not_followed(gateway, upstream, status):
    response = post(gateway, f"redirect-{status}")
    assert response.status_code in (502, 503), response.text
    assert "location" not in response.headers
    assert str(upstream.redirect_port) not in response.text
    assert_openai_error(response)
    failed_row(gateway, response, response.status_code)
    assert upstream.redirect_target_connections == 0, "the gateway followed the redirect"


@pytest.mark.parametrize("model", [
    "ratelimit-retry-after-1e300", "ratelimit-retry-after-ms-1e19", "ratelimit-reset-huge", "ratelimit-garbage",
    "ratelimit-far-date", "ratelimit-inf", "ratelimit-non-ascii-date",
])
def test_absurd_rate_limit_hints_become_a_sane_retry_after(gateway, upstream, model):
    first = post(gateway, model)
    assert first.status_code == 429, first.text
    assert_openai_error(first)
    for response in (first, post(gateway, model)):  # the second finds the account cooling down
        assert response.status_code == 429, response.text
        assert_openai_error(response)
        retry_after = response.headers.get("retry-after")
        assert retry_after is not None and retry_after.isdigit(), retry_after
        assert 1 <= int(retry_after) <= LONGEST_RETRY_AFTER, retry_after
        row = gateway.row(response.headers["x-request-id"])
        assert row["status"] == 429, row
    assert len(upstream.requests_for(model)) == 1, "a cooling account was sent another request"
    # And the gateway keeps serving everything else.
    assert post(gateway, "ok").status_code == 200


def check_finite_row(row):
    for column in ("input_uncached", "cache_read", "cache_write_5m", "cache_write_1h", "output", "reasoning"):
        assert isinstance(row[column], int) and 0 <= row[column] <= INT64_MAX, (column, row)
    assert isinstance(row["cost_picos"], int) and 0 <= row["cost_picos"] <= INT64_MAX, row
    assert isinstance(row["upstream_cost_picos"], int) and 0 <= row["upstream_cost_picos"] <= INT64_MAX, row


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("model", USAGE_MODELS)
def test_absurd_usage_is_recorded_with_a_finite_cost(gateway, model, stream):
    response = post(gateway, model, stream=stream)
    assert response.status_code == 200, response.text
    row = gateway.row(response.headers["x-request-id"])
    assert row["outcome"] == "ok", row
    check_finite_row(row)


def test_absurd_usage_against_a_balance_is_charged_and_the_key_still_works(gateway):
    response = post(gateway, "usage-1e15", key=BUDGET_KEY)
    assert response.status_code == 200, response.text
    row = gateway.row(response.headers["x-request-id"])
    check_finite_row(row)
    assert row["cost_picos"] > 5 * 10**12, "the absurd usage was charged"
    with httpx.Client(timeout=30) as client:
        usage = client.get(f"{gateway.base}/v1/usage", headers=auth(BUDGET_KEY))
    assert usage.status_code == 200, usage.text
    remaining = usage.json()["remaining"]
    assert isinstance(remaining, (int, float)) and math.isfinite(remaining) and remaining <= 0, usage.json()
    # The balance is spent: refused as out of quota, not a crash or a negative-balance surprise.
    refused = post(gateway, "ok", key=BUDGET_KEY)
    assert refused.status_code == 429 and assert_openai_error(refused)["code"] == "insufficient_quota", refused.text
    assert gateway.row(refused.headers["x-request-id"])["outcome"] == "refused"


@pytest.mark.parametrize("model,status", [("echo-secret-401", 502), ("echo-secret-500", 503)])
def test_an_upstream_that_echoes_its_key_does_not_leak_it(gateway, upstream, model, status):
    response = post(gateway, model)
    assert_openai_error(response, status)
    assert UPSTREAM_SECRET not in response.text and UPSTREAM_SECRET not in json.dumps(dict(response.headers))
    failed_row(gateway, response, status)
    # The log is checked for the secret by the autouse fixture.
