"""A hostile OpenAI-compatible upstream: a raw asyncio TCP server speaking just
enough HTTP/1.1 to misbehave in ways a well-behaved HTTP framework will not.

The behaviour is chosen by the model name in the JSON body (after the gateway's
`model_map`, so one client model can reach a misbehaving and a healthy account).
Every request is recorded, so tests can check what reached the upstream, and
every connection is answered at most once, then closed (`Connection: close`), so
framing never depends on keep-alive.

It runs on its own event loop in a background thread of the test process.
"""
import asyncio
import json
import socket
import struct
import threading
import time

# Sizes of the big answers.
HUGE_LINE_BYTES = 20 * 1024 * 1024
HUGE_JSON_BYTES = 70 * 1024 * 1024
# How long a hanging behaviour holds a connection at most (bounded, so nothing outlives the suite).
HANG_LIMIT = 60.0
# Events of endless-stream (about 1 KiB each): far more than any socket buffers.
ENDLESS_EVENTS = 200_000
# How long a gated behaviour waits for the test's signal at most.
GATE_LIMIT = 30.0
TEXT = ["Hello", " from", " the", " hostile", " upstream", "."]


class Recorded:
    """One request as the upstream received it."""

    def __init__(self, method, path, headers, body, model):
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.model = model


class HostileUpstream:
    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.requests = []
        self.connections = 0
        self.redirect_target_connections = 0
        self.huge_json_sent = []  # bytes of the 70 MB body actually written, per request
        self.huge_line_sent = []
        self._gates = {}
        self._lock = threading.Lock()
        self.port = None
        self.redirect_port = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        started = threading.Event()
        self._started = started
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the hostile upstream did not start")

    # ---- test-facing API -------------------------------------------------

    def requests_for(self, model):
        with self._lock:
            return [r for r in self.requests if r.model == model]

    def requests_containing(self, marker):
        marker = marker.encode() if isinstance(marker, str) else marker
        with self._lock:
            return [r for r in self.requests if marker in r.body]

    def release(self, name):
        """Lets every connection waiting at gate `name` go on."""
        with self._lock:
            gates = self._gates.pop(name, [])
        for gate in gates:
            self.loop.call_soon_threadsafe(gate.set)

    def waiting_at(self, name):
        with self._lock:
            return len(self._gates.get(name, []))

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)

    # ---- server ----------------------------------------------------------

    def _run(self):
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0, limit=1 << 20))
        target = self.loop.run_until_complete(asyncio.start_server(self._redirect_target, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self.redirect_port = target.sockets[0].getsockname()[1]
        self._started.set()
        try:
            self.loop.run_forever()
        finally:
            server.close()
            target.close()

    async def _redirect_target(self, reader, writer):
        # The host a redirect points at: the gateway must never come here.
        with self._lock:
            self.redirect_target_connections += 1
        writer.close()

    async def _gate(self, name):
        gate = asyncio.Event()
        with self._lock:
            self._gates.setdefault(name, []).append(gate)
        try:
            await asyncio.wait_for(gate.wait(), GATE_LIMIT)
        except asyncio.TimeoutError:
            pass

    async def _serve(self, reader, writer):
        with self._lock:
            self.connections += 1
        try:
            request = await self._read_request(reader)
            if request is None:
                return
            with self._lock:
                self.requests.append(request)
            await self._answer(request, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError):
            pass
        finally:
            if not writer.is_closing():
                writer.close()

    async def _read_request(self, reader):
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers.setdefault(name.strip().lower(), []).append(value.strip())
        body = b""
        if "content-length" in headers:
            body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"][0])), 30)
        elif "chunked" in ",".join(headers.get("transfer-encoding", [])).lower():
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await reader.readexactly(size + 2)
                if size == 0:
                    break
                body += chunk[:-2]
        model = None
        try:
            model = json.loads(body).get("model")
        except (ValueError, AttributeError):
            pass
        return Recorded(method, path, headers, body, model)

    # ---- answers ---------------------------------------------------------

    @staticmethod
    def _reset(writer):
        """Closes with a TCP reset (SO_LINGER 0) instead of a FIN."""
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    @staticmethod
    def _head(status, reason, headers=(), length=None, content_type="application/json"):
        lines = [f"HTTP/1.1 {status} {reason}", f"content-type: {content_type}", "connection: close"]
        if length is not None:
            lines.append(f"content-length: {length}")
        lines += [f"{name}: {value}" for name, value in headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def _json(self, writer, status, body, headers=(), reason="OK"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        writer.write(self._head(status, reason, headers, length=len(data)) + data)

    @staticmethod
    def _chunk(model, delta=None, finish=None, usage=None):
        body = {"id": "chatcmpl-hostile", "object": "chat.completion.chunk", "created": 1700000000, "model": model}
        body["choices"] = [] if delta is None and finish is None else [
            {"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish}]
        if usage is not None:
            body["usage"] = usage
        return ("data: " + json.dumps(body) + "\n\n").encode()

    @staticmethod
    def _completion(model, usage_text):
        """A chat completion whose usage object is written verbatim (so it may hold 1e400)."""
        return (
            '{"id":"chatcmpl-hostile","object":"chat.completion","created":1700000000,"model":' + json.dumps(model) + ","
            '"choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the hostile upstream."},'
            '"finish_reason":"stop","logprobs":null}],"usage":' + usage_text + "}"
        ).encode()

    def _opening(self, model):
        return self._chunk(model, {"role": "assistant", "content": ""}) + b"".join(self._chunk(model, {"content": w}) for w in TEXT[:3])

    ABSURD_USAGE = {
        "usage-1e15": '{"prompt_tokens":1e15,"completion_tokens":1e15,"total_tokens":2e15}',
        "usage-1e400": '{"prompt_tokens":1e400,"completion_tokens":1e400,"total_tokens":1e400}',
        "usage-int-overflow": '{"prompt_tokens":99999999999999999999999999,"completion_tokens":99999999999999999999999999,"total_tokens":1}',
        "usage-negative": '{"prompt_tokens":-1000,"completion_tokens":-9223372036854775808,"total_tokens":-5}',
        "usage-fraction": '{"prompt_tokens":12.75,"completion_tokens":0.5,"total_tokens":13.25}',
        "usage-strings": '{"prompt_tokens":"100","completion_tokens":"1e15","total_tokens":null}',
        "usage-nested-junk": '{"prompt_tokens":10,"completion_tokens":10,"prompt_tokens_details":{"cached_tokens":1e300},'
                             '"completion_tokens_details":{"reasoning_tokens":-1e300}}',
    }

    RATE_LIMIT_HEADERS = {
        "ratelimit-retry-after-1e300": [("retry-after", "1e300")],
        "ratelimit-retry-after-ms-1e19": [("retry-after-ms", "1e19")],
        "ratelimit-reset-huge": [("x-ratelimit-reset-requests", "9999999999999h"), ("x-ratelimit-remaining-requests", "0"),
                                 ("x-ratelimit-reset-tokens", "99999999999999999999999999999s"), ("x-ratelimit-remaining-tokens", "0")],
        "ratelimit-garbage": [("retry-after", "-5"), ("retry-after-ms", "nan"), ("x-ratelimit-reset-requests", "1e309s"),
                              ("x-ratelimit-reset-tokens", "h" * 10000), ("anthropic-ratelimit-requests-reset", "9999-99-99T99:99:99Z")],
        "ratelimit-far-date": [("retry-after", "Fri, 31 Dec 9999 23:59:59 GMT")],
        "ratelimit-inf": [("retry-after", "inf"), ("retry-after-ms", "Infinity")],
        # What the fuzzer found: Foundation's date parser trapped on these bytes.
        "ratelimit-non-ascii-date": [("retry-after", "Wed, 21 Oct 2015 07:28:00\u05b8MT")],
    }

    async def _answer(self, request, reader, writer):
        model = request.model or ""
        payload = {}
        try:
            payload = json.loads(request.body)
        except ValueError:
            pass
        stream = payload.get("stream") is True

        if request.path.endswith("/responses"):
            # Just enough of the Responses API: input must be a string or a list.
            if not isinstance(payload.get("input"), (str, list)):
                self._json(writer, 400, {"error": {"message": "'input' must be a string or an array", "type": "invalid_request_error",
                                                   "param": "input", "code": None}}, reason="Bad Request")
            else:
                self._json(writer, 200, {
                    "id": "resp_hostile", "object": "response", "created_at": 1700000000, "status": "completed", "model": model,
                    "output": [{"type": "message", "id": "msg_hostile", "status": "completed", "role": "assistant",
                                "content": [{"type": "output_text", "text": "Hello from the hostile upstream.", "annotations": []}]}],
                    "usage": {"input_tokens": 12, "output_tokens": 6, "total_tokens": 18}})
            await writer.drain()
            return

        if not request.path.endswith("/chat/completions"):
            self._json(writer, 404, {"error": {"message": "not here", "type": "invalid_request_error", "param": None, "code": None}},
                       reason="Not Found")
            await writer.drain()
            return

        if not isinstance(payload.get("messages"), list):
            # As the real API does: messages must be an array.
            self._json(writer, 400, {"error": {"message": "'messages' must be an array", "type": "invalid_request_error",
                                               "param": "messages", "code": None}}, reason="Bad Request")
            await writer.drain()
            return

        if model == "hang-head":
            # Read the request, then say nothing until the gateway gives up (bounded).
            try:
                await asyncio.wait_for(reader.read(1), HANG_LIMIT)
            except asyncio.TimeoutError:
                pass
            return

        if model == "rst-head":
            self._reset(writer)
            return

        if model == "rst-mid-stream":
            writer.write(self._head(200, "OK", content_type="text/event-stream") + self._opening(model))
            await writer.drain()
            await self._gate("rst-mid-stream")  # the test has read the first events
            self._reset(writer)
            return

        if model == "endless-stream":
            # Streams as fast as it is read, until the gateway hangs up (bounded).
            writer.write(self._head(200, "OK", content_type="text/event-stream") + self._opening(model))
            event = self._chunk(model, {"content": "more " * 200})
            try:
                for _ in range(ENDLESS_EVENTS):
                    writer.write(event)
                    await asyncio.wait_for(writer.drain(), 30)
            except (ConnectionError, asyncio.TimeoutError):
                pass
            return

        if model == "stall-mid-stream":
            writer.write(self._head(200, "OK", content_type="text/event-stream") + self._opening(model))
            await writer.drain()
            try:
                await asyncio.wait_for(reader.read(1), HANG_LIMIT)
            except asyncio.TimeoutError:
                pass
            return

        if model in ("huge-sse-line", "huge-sse-line-first"):
            opening = b"" if model == "huge-sse-line-first" else self._opening(model)
            writer.write(self._head(200, "OK", content_type="text/event-stream") + opening + b"data: ")
            sent = 0
            block = b"x" * (256 * 1024)
            try:
                while sent < HUGE_LINE_BYTES:
                    writer.write(block)
                    await asyncio.wait_for(writer.drain(), 30)
                    sent += len(block)
                writer.write(b"\n\n" + self._chunk(model, {}, "stop") + b"data: [DONE]\n\n")
                await asyncio.wait_for(writer.drain(), 30)
            finally:
                with self._lock:
                    self.huge_line_sent.append(sent)
            return

        if model in ("huge-json", "huge-json-unframed"):
            framed = model == "huge-json"
            writer.write(self._head(200, "OK", length=HUGE_JSON_BYTES if framed else None))
            prefix = b'{"id":"chatcmpl-hostile","object":"chat.completion","model":"huge-json","pad":"'
            writer.write(prefix)
            sent = len(prefix)
            block = b"x" * (256 * 1024)
            try:
                while sent < HUGE_JSON_BYTES - 2:
                    piece = block[: HUGE_JSON_BYTES - 2 - sent]
                    writer.write(piece)
                    await asyncio.wait_for(writer.drain(), 30)
                    sent += len(piece)
                writer.write(b'"}')
                await asyncio.wait_for(writer.drain(), 30)
                sent += 2
            finally:
                with self._lock:
                    self.huge_json_sent.append(sent)
            return

        if model.startswith("redirect-"):
            status = int(model.split("-")[1])
            location = f"http://127.0.0.1:{self.redirect_port}/v1/chat/completions"
            self._json(writer, status, b"", headers=[("location", location)], reason="Moved")
            await writer.drain()
            return

        if model in self.RATE_LIMIT_HEADERS:
            self._json(writer, 429, {"error": {"message": "slow down", "type": "rate_limit_exceeded", "param": None, "code": None}},
                       headers=self.RATE_LIMIT_HEADERS[model], reason="Too Many Requests")
            await writer.drain()
            return

        if model in ("echo-secret-401", "echo-secret-500"):
            status = int(model[-3:])
            secret = ",".join(request.headers.get("authorization", []))
            self._json(writer, status, {"error": {"message": f"Incorrect API key provided: {secret}", "type": "invalid_request_error",
                                                  "param": None, "code": "invalid_api_key"}}, reason="Error")
            await writer.drain()
            return

        if model in self.ABSURD_USAGE:
            usage_text = self.ABSURD_USAGE[model]
            if stream:
                writer.write(self._head(200, "OK", content_type="text/event-stream") + self._opening(model)
                             + self._chunk(model, {}, "stop")
                             + b'data: {"id":"chatcmpl-hostile","object":"chat.completion.chunk","created":1700000000,"model":'
                             + json.dumps(model).encode() + b',"choices":[],"usage":' + usage_text.encode() + b"}\n\n"
                             + b"data: [DONE]\n\n")
            else:
                self._json(writer, 200, self._completion(model, usage_text))
            await writer.drain()
            return

        # Anything else: a normal, well-formed answer.
        usage = {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18}
        if stream:
            writer.write(self._head(200, "OK", content_type="text/event-stream") + self._opening(model)
                         + b"".join(self._chunk(model, {"content": w}) for w in TEXT[3:])
                         + self._chunk(model, {}, "stop") + self._chunk(model, usage=usage) + b"data: [DONE]\n\n")
        else:
            self._json(writer, 200, self._completion(model, json.dumps(usage)))
        await writer.drain()


if __name__ == "__main__":  # for trying it by hand
    upstream = HostileUpstream()
    print("listening", upstream.port, "redirect target", upstream.redirect_port, flush=True)
    while True:
        time.sleep(3600)
