"""SIGTERM while streams run: they finish whole, every request has exactly one
row (ok), the process exits 0 and leaves nothing for the next start to recover."""
from durability_harness import EVENT_TIMEOUT, BackgroundStream, wait_until

STREAMS = 20
WORDS = [f"w{i} " for i in range(200)]  # what slow-stream sends, one word per event


def test_sigterm_lets_streams_finish_and_records_each_once(lab):
    gateway = lab.gateway(stall_timeout="5s").start()  # the default: this test is not about stalls
    with gateway.client() as client:
        before = [gateway.chat(client) for _ in range(3)]
    assert [r.status_code for r in before] == [200] * 3
    before_ids = [r.headers["x-request-id"] for r in before]

    streams = [BackgroundStream(gateway) for _ in range(STREAMS)]
    wait_until(lambda: all(s.status == 200 and b"data: " in s.body for s in streams),
               message="every stream's first event")
    assert not any(s.finished.is_set() for s in streams), "a stream ended before SIGTERM: the test proved nothing"

    code = gateway.terminate(timeout=120)
    assert code == 0, f"the gateway did not exit cleanly on SIGTERM ({code}):\n{gateway.log()[-4000:]}"
    for stream in streams:
        stream.wait(EVENT_TIMEOUT)
    cut = [(s.request_id, s.error, s.text[-200:]) for s in streams if not s.completed or s.words() != WORDS]
    assert not cut, f"{len(cut)} of {STREAMS} streams were cut by the shutdown, e.g. {cut[:2]}"
    assert "ledger rows could not be written before exit" not in gateway.output.text()

    # Every request has exactly one row, written before the exit, and none is interrupted.
    ids = before_ids + [s.request_id for s in streams]
    assert len(set(ids)) == len(ids)
    rows = gateway.rows()
    counts = gateway.row_counts()
    assert all(counts.get(rid) == 1 for rid in ids), {rid: counts.get(rid) for rid in ids if counts.get(rid) != 1}
    assert not gateway.duplicates()
    for stream in streams:
        row = rows[stream.request_id]
        assert (row["outcome"], row["status"], row["stream"]) == ("ok", 200, 1), row
        assert row["cost_picos"] > 0, row
    # A clean stop leaves no request open in the journal.
    assert gateway.journal_open_ids() == {}, "the journal holds requests open after a clean stop"

    # The next start finds nothing to recover: the ledger is exactly as the stop left it.
    gateway.start()
    assert gateway.rows() == rows
    assert "requests interrupted by the last stop were recorded" not in gateway.output.text()
    assert gateway.terminate() == 0, gateway.log()[-4000:]
