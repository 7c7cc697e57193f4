"""kill -9 under load: after a restart on the same files every admitted request
has exactly one ledger row, the ones cut short are `interrupted` and charged,
and the key's spending counts them."""
import asyncio
import signal
from dataclasses import dataclass
from decimal import Decimal

import httpx

from durability_harness import (
    EVENT_TIMEOUT, FAST_MODEL, KEY, KEY_NAME, PICOS_PER_DOLLAR, SLOW_MODEL, dollars_to_picos, wait_until,
)

STREAMS = 50
SHORT_REQUESTS = 200
SHORT_WORKERS = 10
# The kill comes once this many streams have body bytes, and either this many short
# requests were answered or a stream is halfway through its 200 events (so streams
# are always cut mid-way, however fast or slow the machine is).
STREAMS_WITH_BYTES = 10
SHORTS_ANSWERED = 100
HALFWAY_EVENTS = 100


@dataclass
class Seen:
    """What one client saw of one request."""
    kind: str
    request_id: str = None
    status: int = None
    body: bytes = b""
    error: str = None
    finished: bool = False


async def send(client, body, seen):
    """Posts one chat request and notes in `seen` what came back, however it ended."""
    try:
        async with client.stream("POST", "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {KEY}"}) as response:
            seen.request_id = response.headers.get("x-request-id")
            seen.status = response.status_code
            async for chunk in response.aiter_raw():
                seen.body += chunk
    except httpx.HTTPError as error:
        seen.error = repr(error)
    finally:
        seen.finished = True


async def stream_one(client, seen):
    body = {"model": SLOW_MODEL, "stream": True, "max_tokens": 1000, "messages": [{"role": "user", "content": "Count slowly"}]}
    await send(client, body, seen)


async def short_worker(client, shorts, killed):
    """Sends short requests one after another until SHORT_REQUESTS were sent in all, or the gateway is gone."""
    body = {"model": FAST_MODEL, "messages": [{"role": "user", "content": "Say hello"}]}
    while len(shorts) < SHORT_REQUESTS and not killed.is_set():
        seen = Seen("short")
        shorts.append(seen)
        await send(client, body, seen)


async def load_and_kill(gateway):
    """Runs the load, kills the gateway with SIGKILL in the middle of it, and returns what the clients saw."""
    limits = httpx.Limits(max_connections=STREAMS + SHORT_WORKERS + 10, max_keepalive_connections=STREAMS + SHORT_WORKERS + 10)
    timeout = httpx.Timeout(EVENT_TIMEOUT, connect=10.0)
    streams = [Seen("stream") for _ in range(STREAMS)]
    shorts = []
    killed = asyncio.Event()
    async with httpx.AsyncClient(base_url=gateway.base, limits=limits, timeout=timeout) as client:
        tasks = [asyncio.create_task(stream_one(client, seen)) for seen in streams]
        tasks += [asyncio.create_task(short_worker(client, shorts, killed)) for _ in range(SHORT_WORKERS)]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + EVENT_TIMEOUT
        while loop.time() < deadline:
            with_bytes = sum(1 for seen in streams if seen.body)
            answered = sum(1 for seen in shorts if seen.finished and seen.status == 200)
            furthest = max(seen.body.count(b"data: ") for seen in streams)
            if with_bytes >= STREAMS_WITH_BYTES and (answered >= SHORTS_ANSWERED or furthest >= HALFWAY_EVENTS):
                break
            if all(task.done() for task in tasks):
                break
            await asyncio.sleep(0.02)
        streams_running = sum(1 for seen in streams if seen.body and not seen.finished)
        gateway.process.send_signal(signal.SIGKILL)
        killed.set()
        gateway.process.wait(timeout=30)
        done, pending = await asyncio.wait(tasks, timeout=EVENT_TIMEOUT)
        for task in pending:
            task.cancel()
        assert not pending, f"{len(pending)} clients still waiting {EVENT_TIMEOUT}s after the kill"
    assert streams_running > 0, "no stream was in flight at the kill: the test proved nothing"
    print(f"\nkilled with {streams_running} streams running and {answered} short requests answered")
    return streams, shorts


def test_kill9_under_load_leaves_exactly_one_row_per_admitted_request(lab):
    # The default stall timeout: this test is about kills, not stalls (a CPU-starved
    # machine can make a batch wait past a short one, and refuse a request).
    gateway = lab.gateway(stall_timeout="5s").start()
    streams, shorts = asyncio.run(load_and_kill(gateway))
    assert gateway.process.returncode == -signal.SIGKILL

    # What the dead process left on disk, copied before anything touches it.
    db_at_kill, journal_at_kill = gateway.snapshot_files(lab.workdir / "at-kill")
    rows_at_kill = gateway.rows(db_at_kill)
    open_at_kill = gateway.journal_open_ids(journal_at_kill)

    seen = [s for s in streams + shorts if s.request_id is not None]
    unanswered = [s for s in streams + shorts if s.request_id is None]
    assert len({s.request_id for s in seen}) == len(seen), "two responses carried the same request id"
    # Only a ledger that falls behind may refuse this load (such a request is not admitted: no row is owed).
    refused = [s for s in seen if s.status != 200]
    unexpected = [(s.request_id, s.status, s.body[:200]) for s in refused if b'"ledger_unavailable"' not in s.body]
    assert not unexpected, f"requests refused before the kill: {unexpected[:5]}\n{gateway.log()[-3000:]}"
    served = [s for s in seen if s.status == 200]
    cut_streams = [s for s in streams if s.status == 200 and b"data: [DONE]" not in s.body]
    assert cut_streams, "every stream finished before the kill"
    assert open_at_kill, "the journal held no open request at the kill"

    gateway.start()  # same config, same data directory

    rows = gateway.rows()
    assert not gateway.duplicates()
    # Every request a client saw admitted (a 200 head) has exactly one row; a refused one at most one.
    counts = gateway.row_counts()
    missing = [s.request_id for s in served if counts.get(s.request_id, 0) != 1]
    assert not missing, (
        f"{len(missing)} of {len(served)} admitted requests have no row after the restart, e.g. {missing[:5]}\n{gateway.log()[-3000:]}")
    assert all(counts.get(s.request_id, 0) <= 1 for s in refused)
    # Requests that got no head may not have been admitted; none may have two rows (request_id is unique per row anyway).
    assert all(count == 1 for count in counts.values())
    # Every request the journal held open at the kill has its row now.
    unrecovered = sorted(set(open_at_kill) - set(rows))
    assert not unrecovered, f"requests open in the journal at the kill have no row after the restart: {unrecovered[:5]}"
    # Rows written before the kill are kept as they were: a recovery never replaces or re-charges them.
    changed = [rid for rid, row in rows_at_kill.items() if rows.get(rid) != row]
    assert not changed, f"rows written before the kill changed at the restart: {changed[:5]}"
    # The rows the restart added are exactly the interrupted ones, each charged an estimate.
    added = {rid: row for rid, row in rows.items() if rid not in rows_at_kill}
    assert added, "the restart recorded no interrupted request"
    interrupted = {rid: row for rid, row in rows.items() if row["outcome"] == "interrupted"}
    assert set(interrupted) == set(added), "rows added at the restart and interrupted rows differ"
    assert set(interrupted) <= set(open_at_kill), "an interrupted row for a request the journal did not hold open"
    for rid, row in interrupted.items():
        assert row["cost_picos"] > 0, f"interrupted row {rid} charged nothing: {row}"
        assert row["usage_source"] == "estimated", row
        assert row["key_name"] == KEY_NAME, row
        assert row["error_code"] == "interrupted", row
    # Every stream the client saw cut short, and that had no row at the kill, is interrupted now.
    for stream in cut_streams:
        if stream.request_id not in rows_at_kill:
            assert rows[stream.request_id]["outcome"] == "interrupted", rows[stream.request_id]
            assert rows[stream.request_id]["stream"] == 1
    # The journal holds nothing open without a row any more.
    still_open = gateway.journal_open_ids()
    assert set(still_open) <= set(rows), f"journal entries open without a row after the restart: {sorted(still_open)[:5]}"

    # The key's spending after the restart is the ledger's, interrupted rows included.
    spent_picos = sum(row["cost_picos"] for row in rows.values() if row["key_name"] == KEY_NAME)
    interrupted_picos = sum(row["cost_picos"] for row in interrupted.values())
    assert 0 < interrupted_picos <= spent_picos
    key = gateway.admin_key()["usage"]
    assert dollars_to_picos(key["total_cost_usd"]) == spent_picos, (key, spent_picos)
    assert dollars_to_picos(key["balance_remaining_usd"]) == 100 * PICOS_PER_DOLLAR - spent_picos, key
    usage = gateway.usage()
    assert abs(Decimal(str(usage["total_cost_usd"])) * PICOS_PER_DOLLAR - spent_picos) <= Decimal("0.000001") * PICOS_PER_DOLLAR, usage

    # A second kill and start (nothing in flight) changes nothing: recovery does not run twice.
    assert gateway.kill9() == -signal.SIGKILL
    gateway.start()
    assert gateway.rows() == rows
    assert dollars_to_picos(gateway.admin_key()["usage"]["total_cost_usd"]) == spent_picos

    # The restarted gateway serves, and stops cleanly.
    with gateway.client() as client:
        response = gateway.chat(client)
        assert response.status_code == 200, response.text
        request_id = response.headers["x-request-id"]
    wait_until(lambda: gateway.row_counts().get(request_id) == 1, message="a row for the request after the restart")
    assert gateway.terminate() == 0, gateway.log()[-4000:]
    print(
        f"\nkill -9: {len(served)} requests admitted, {len(refused)} refused, {len(unanswered)} got no head; {len(rows_at_kill)} rows at the kill, "
        f"{len(open_at_kill)} open in the journal, {len(interrupted)} interrupted rows after the restart")
