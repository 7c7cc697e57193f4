#!/usr/bin/env python3
"""A do-nothing OTLP/HTTP collector for benchmarks: answers every POST to
/v1/traces with an empty protobuf answer and counts what it was sent.

    bench/otlp_sink.py 4318 &
    SWITCHBOARD_OTLP_ENDPOINT=http://127.0.0.1:4318 bench/run.sh

Prints the posts and bytes it took when stopped (Ctrl-C or SIGTERM)."""
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

posts = 0
received = 0


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        global posts, received
        length = int(self.headers.get("content-length", 0))
        received += len(self.rfile.read(length))
        posts += 1
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def stop(*_):
    print(f"otlp sink: {posts} posts, {received} bytes", flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 4318), Sink)
try:
    server.serve_forever()
except KeyboardInterrupt:
    stop()
