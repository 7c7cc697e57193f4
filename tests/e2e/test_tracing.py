"""OpenTelemetry traces: with `otlp_endpoint` set, each request is a span and
each attempt upstream a child, exported over OTLP/HTTP (protobuf) to a small
collector on loopback; a client's W3C `traceparent` is their parent, and with
`propagate_trace: true` each attempt sends its own `traceparent` upstream."""
import json
import re
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from gateway_process import BIN, Output

KEY = "sk-sb-trace-0123456789abcdefghijklmnopqrstu"
FAILING_SECRET = "sk-upstream-trace-failing"
SERVING_SECRET = "sk-upstream-trace-serving"
PROMPT = "a prompt that must never appear in a span"
CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_PARENT = "00f067aa0ba902b7"


class Collector(ThreadingHTTPServer):
    """An OTLP/HTTP receiver: keeps every span posted to /v1/traces."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), CollectorHandler)
        self.spans = []
        self.content_types = []
        self.lock = threading.Lock()

    def wait_for(self, predicate, timeout=60.0):
        """Waits (a generous bound) until the spans received satisfy `predicate`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                spans = list(self.spans)
            if predicate(spans):
                return spans
            time.sleep(0.05)
        raise AssertionError(f"spans never arrived as expected: {[s.name for s in spans]}")


class CollectorHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        request = trace_service_pb2.ExportTraceServiceRequest()
        request.ParseFromString(body)
        with self.server.lock:
            self.server.content_types.append(self.headers["content-type"])
            for resource_spans in request.resource_spans:
                for scope_spans in resource_spans.scope_spans:
                    self.server.spans.extend(scope_spans.spans)
        answer = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        self.send_response(200 if self.path == "/v1/traces" else 404)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


class Upstream(ThreadingHTTPServer):
    """An OpenAI-format provider: one secret's account fails with 503, the
    other answers; every request's headers are kept."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), UpstreamHandler)
        self.seen = []
        self.lock = threading.Lock()


class UpstreamHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers["content-length"]))
        secret = self.headers["authorization"].removeprefix("Bearer ")
        with self.server.lock:
            self.server.seen.append({"secret": secret, "traceparent": self.headers.get("traceparent")})
        if secret == FAILING_SECRET:
            self.answer(503, {"error": {"message": "overloaded", "type": "server_error"}})
        else:
            self.answer(200, {
                "id": "chatcmpl-trace", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "traced"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
            })

    def answer(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def collector():
    server = serve(Collector())
    yield server
    server.shutdown()


@pytest.fixture
def upstream():
    server = serve(Upstream())
    yield server
    server.shutdown()


def start_gateway(tmp_path, collector, upstream, propagate):
    config = tmp_path / "switchboard.yaml"
    upstream_url = f"http://127.0.0.1:{upstream.server_address[1]}/v1"
    config.write_text(f"""
listen: 127.0.0.1:0
database: sqlite:{tmp_path}/data/switchboard.db
allow_private_upstreams: true
otlp_endpoint: http://127.0.0.1:{collector.server_address[1]}
propagate_trace: {"true" if propagate else "false"}
transient_failures: 100
accounts:
  - name: failing
    provider: openai
    base_url: {upstream_url}
    api_key: {FAILING_SECRET}
    models: [gpt-4o-mini]
    priority: 0
  - name: serving
    provider: openai
    base_url: {upstream_url}
    api_key: {SERVING_SECRET}
    models: [gpt-4o-mini]
    priority: 1
keys:
  - name: traced-key
    key: {KEY}
""")
    # Batches leave every 100 ms instead of every 5 s (the standard OTel variable).
    env = {"PATH": "/usr/bin:/bin", "OTEL_BSP_SCHEDULE_DELAY": "100"}
    process = subprocess.Popen([str(BIN / "switchboard"), "serve", "--config", str(config)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path, env=env)
    output = Output(process)
    port = int(output.wait_for(r"switchboard listening address=127\.0\.0\.1:(\d+)", process).group(1))
    return process, output, port


def stop(process, output):
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0, output.text(finished=True)[-3000:]


def attributes(span):
    values = {}
    for attribute in span.attributes:
        value = attribute.value
        values[attribute.key] = getattr(value, value.WhichOneof("value"))
    return values


def no_secret_in(spans):
    text = repr([(span.name, attributes(span), span.status.message) for span in spans])
    for secret in (KEY, FAILING_SECRET, SERVING_SECRET, PROMPT):
        assert secret not in text


def test_a_request_and_its_attempts_are_spans_under_the_clients_trace_and_attempts_propagate_upstream(tmp_path, collector, upstream):
    process, output, port = start_gateway(tmp_path, collector, upstream, propagate=True)
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY, max_retries=0)
        answer = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}],
            extra_headers={"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_PARENT}-01"})
        assert answer.choices[0].message.content == "traced"
        spans = collector.wait_for(lambda spans: len(spans) >= 3)
    finally:
        stop(process, output)

    assert set(collector.content_types) == {"application/x-protobuf"}
    request = next(span for span in spans if span.kind == trace_pb2.Span.SPAN_KIND_SERVER)
    assert request.trace_id.hex() == CLIENT_TRACE and request.parent_span_id.hex() == CLIENT_PARENT
    facts = attributes(request)
    assert facts["gen_ai.request.model"] == "gpt-4o-mini"
    assert facts["http.response.status_code"] == 200 and facts["switchboard.outcome"] == "ok"
    assert facts["switchboard.key"] == "traced-key" and facts["switchboard.account"] == "serving"
    assert facts["switchboard.attempts"] == 2
    assert facts["gen_ai.usage.input_tokens"] == 11 and facts["gen_ai.usage.output_tokens"] == 3
    assert re.fullmatch(r"\d+\.\d+", facts["switchboard.cost_usd"]) and float(facts["switchboard.cost_usd"]) > 0
    assert request.status.code != trace_pb2.Status.STATUS_CODE_ERROR

    attempts = sorted((span for span in spans if span.kind == trace_pb2.Span.SPAN_KIND_CLIENT), key=lambda s: s.start_time_unix_nano)
    assert len(attempts) == 2
    for attempt in attempts:
        assert attempt.trace_id == request.trace_id and attempt.parent_span_id == request.span_id
        assert request.start_time_unix_nano <= attempt.start_time_unix_nano <= attempt.end_time_unix_nano <= request.end_time_unix_nano
    failed, served = (attributes(span) for span in attempts)
    assert failed["switchboard.account"] == "failing" and failed["http.response.status_code"] == 503
    assert attempts[0].status.code == trace_pb2.Status.STATUS_CODE_ERROR and "503" in attempts[0].status.message
    assert served["switchboard.account"] == "serving" and served["http.response.status_code"] == 200
    assert attempts[1].status.code != trace_pb2.Status.STATUS_CODE_ERROR

    # Each attempt told the upstream its own span, in the client's trace.
    sent = [seen["traceparent"] for seen in upstream.seen]
    assert [seen["secret"] for seen in upstream.seen] == [FAILING_SECRET, SERVING_SECRET]
    assert sent == [f"00-{CLIENT_TRACE}-{attempt.span_id.hex()}-01" for attempt in attempts]
    no_secret_in(spans)


def test_without_propagation_nothing_goes_upstream_and_a_broken_traceparent_starts_a_trace_of_its_own(tmp_path, collector, upstream):
    process, output, port = start_gateway(tmp_path, collector, upstream, propagate=False)
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY, max_retries=0)
        answer = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}],
            extra_headers={"traceparent": "00-not-a-trace-zz-01"})
        assert answer.choices[0].message.content == "traced"
        spans = collector.wait_for(lambda spans: len(spans) >= 3)
    finally:
        stop(process, output)

    request = next(span for span in spans if span.kind == trace_pb2.Span.SPAN_KIND_SERVER)
    assert len(request.trace_id) == 16 and request.trace_id != bytes(16) and request.parent_span_id == b""
    assert all(span.trace_id == request.trace_id for span in spans)
    assert [seen["traceparent"] for seen in upstream.seen] == [None, None]
    no_secret_in(spans)
