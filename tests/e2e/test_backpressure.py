"""A client that stops reading holds the upstream back; the gateway does not buffer the stream."""
import time

import httpx

from conftest import KEY


def test_a_stalled_reader_does_not_grow_the_gateways_memory(gateway):
    before = gateway.rss_kib()
    body = {"model": "big-stream", "max_tokens": 64, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
    with httpx.Client(timeout=60) as client:
        with client.stream("POST", f"{gateway.anthropic_base}/v1/messages", json=body, headers=headers) as response:
            assert response.status_code == 200
            chunks = response.iter_raw()
            next(chunks)
            # The fake upstream offers 500 MB as fast as it is taken. Stop reading and
            # let every buffer on the way fill up.
            time.sleep(4)
            grown = gateway.rss_kib() - before
            assert grown < 64 * 1024, f"the gateway grew by {grown} KiB while the client was not reading"
            received = sum(len(next(chunks)) for _ in range(50))
            assert received > 0, "the stream goes on once the client reads again"
