"""The ledger cannot be written (a full disk, a file size limit, a locked
database): new requests are refused with 503 ledger_unavailable and /ready says
why; once writes succeed again the gateway recovers by itself, and every
request it answered has exactly one row, rows queued meanwhile included."""
import json
import os
import signal
import sqlite3
import subprocess

import httpx
import pytest

from durability_harness import BackgroundStream, fill_filesystem, wait_until

# Refusal and recovery are events, waited for within these (the stall timeout is 1 s).
REFUSAL_TIMEOUT = 60.0
RECOVERY_TIMEOUT = 30.0


class Traffic:
    """Requests sent one by one, each remembered with what it got."""

    def __init__(self, gateway):
        self.gateway = gateway
        self.answered = []  # (request id, status, error code)

    def send(self, stream=False):
        with self.gateway.client() as client:
            try:
                response = self.gateway.chat(client, stream=stream)
            except httpx.TransportError as error:
                if self.gateway.running():
                    raise
                self.gateway.process.wait(timeout=30)
                code = self.gateway.process.returncode
                how = f"of {signal.Signals(-code).name}" if code < 0 else f"with exit code {code}"
                raise AssertionError(
                    f"the gateway died {how} while its storage could not be written ({error!r}), instead of "
                    f"refusing requests with 503 ledger_unavailable\n{self.gateway.log()[-1500:]}") from None
            code = None
            if response.status_code != 200:
                try:
                    code = response.json()["error"]["code"]
                except (ValueError, KeyError, TypeError):
                    code = response.text[:200]
            self.answered.append((response.headers.get("x-request-id"), response.status_code, code))
            return response

    def ok_ids(self):
        return [rid for rid, status, _ in self.answered if status == 200]

    def until_refused(self, timeout=REFUSAL_TIMEOUT):
        """Sends requests until one is refused with ledger_unavailable; returns that response."""
        def refused():
            response = self.send()
            return response if response.status_code == 503 else None
        response = wait_until(refused, timeout=timeout, interval=0.1, message="a 503 ledger_unavailable")
        assert response.json()["error"]["code"] == "ledger_unavailable", response.text
        assert response.headers.get("retry-after"), response.headers
        return response


def assert_unavailable(gateway):
    status, body = gateway.ready()
    assert status == 503, body
    assert body["status"] == "unavailable", body
    assert body["reasons"] and all(isinstance(r, str) and r for r in body["reasons"]), body
    return body["reasons"]


def assert_recovers(gateway, traffic):
    """/ready comes back by itself, requests are served again, and every answered request has exactly one row."""
    last = []

    def ready():
        last[:] = [gateway.ready()]
        return last[0][0] == 200

    try:
        wait_until(ready, timeout=RECOVERY_TIMEOUT, interval=0.2, message="/ready answering 200")
    except AssertionError:
        refused = traffic.send()
        raise AssertionError(
            f"the gateway did not recover by itself within {RECOVERY_TIMEOUT}s after the storage could be written again: "
            f"/ready still answers {last[0]}; a new request gets {refused.status_code} {refused.text[:300]}") from None
    assert gateway.ready() == (200, {"status": "ready", "reasons": []})
    for _ in range(3):
        response = traffic.send()
        assert response.status_code == 200, response.text
    assert traffic.send(stream=True).status_code == 200
    assert_one_row_each(gateway, traffic)


def rowless(gateway, traffic, extra_ids=()):
    """Requests answered 200 whose rows are not in the database yet (queued in the gateway's memory)."""
    counts = gateway.row_counts()
    return [rid for rid in traffic.ok_ids() + list(extra_ids) if rid not in counts]


def assert_one_row_each(gateway, traffic, extra_ids=()):
    ok = traffic.ok_ids() + list(extra_ids)
    counts = gateway.wait_for_rows(ok)
    assert all(counts[rid] == 1 for rid in ok)
    assert not gateway.duplicates()
    rows = gateway.rows()
    assert all(rows[rid]["outcome"] == "ok" and rows[rid]["status"] == 200 for rid in ok), [rows[rid] for rid in ok if rows[rid]["outcome"] != "ok"]
    # Refused requests have at most one row (refused before admission: none).
    for rid, status, _ in traffic.answered:
        if rid is not None and status != 200:
            assert counts.get(rid, 0) <= 1


def test_database_disk_full_refuses_then_recovers_without_losing_rows(lab):
    """The database's filesystem fills up (the journal, elsewhere, still writes)."""
    mount = lab.tmpfs(lab.workdir / "mnt", size="32m")
    data = mount / "data"
    data.mkdir()
    # The journal lives beside the database; here it is kept on the roomy disk, so only SQLite meets the full one.
    (lab.workdir / "journal-elsewhere").mkdir()
    os.symlink(lab.workdir / "journal-elsewhere", data / "journal")
    gateway = lab.gateway(data_dir=data).start()
    traffic = Traffic(gateway)
    for _ in range(3):
        assert traffic.send().status_code == 200
    stream = BackgroundStream(gateway)  # in flight through the whole outage
    wait_until(lambda: b"data: " in stream.body, message="the stream's first event")

    fill_filesystem(mount / "filler")
    traffic.until_refused()
    reasons = assert_unavailable(gateway)
    assert traffic.send(stream=True).status_code == 503, "a streaming request was served while the ledger is unavailable"
    assert gateway.running()
    stream.wait()
    assert stream.completed, f"the stream in flight was cut: {stream.error} {stream.text[-200:]}"
    queued = rowless(gateway, traffic, [stream.request_id])
    assert queued, "every answered request already has its row: the outage queued nothing, the test proved nothing"

    os.remove(mount / "filler")
    assert_recovers(gateway, traffic)
    assert_one_row_each(gateway, traffic, [stream.request_id])  # the queued rows included
    assert gateway.terminate() == 0, gateway.log()[-4000:]
    print(f"\ndatabase full: refused with {reasons}")


def test_journal_disk_full_refuses_then_recovers(lab):
    """The journal's filesystem fills up (the database, elsewhere, still writes)."""
    journal = lab.tmpfs(lab.workdir / "data" / "journal", size="4m")
    gateway = lab.gateway().start()
    traffic = Traffic(gateway)
    for _ in range(3):
        assert traffic.send().status_code == 200

    fill_filesystem(journal / "filler")
    traffic.until_refused()
    reasons = assert_unavailable(gateway)
    assert any("journal" in reason for reason in reasons), reasons
    assert gateway.running()
    # What was answered before is in the ledger already (the database is fine).
    assert_one_row_each(gateway, traffic)

    os.remove(journal / "filler")
    assert_recovers(gateway, traffic)
    assert gateway.terminate() == 0, gateway.log()[-4000:]
    assert_whole_lines(journal)


def assert_whole_lines(journal):
    """A write cut short by the full disk was cut off again: every line of every
    segment is a whole record, so no later record was spoiled by a torn one."""
    for segment in sorted(journal.glob("segment-*.log")):
        data = segment.read_bytes()
        assert not data or data.endswith(b"\n"), f"{segment.name} ends in a torn line: {data[-120:]!r}"
        for number, line in enumerate(data.splitlines(), 1):
            try:
                json.loads(line)
            except ValueError:
                raise AssertionError(f"{segment.name} line {number} is torn: {line[:200]!r}") from None


def test_file_size_limit_refuses_instead_of_killing_the_gateway(lab):
    """RLIMIT_FSIZE (ulimit -f, systemd LimitFSIZE=) reached: writes fail with EFBIG,
    and SIGXFSZ, whose default action ends the process, must not end the gateway."""
    if subprocess.run(["prlimit", "--version"], capture_output=True).returncode != 0:
        pytest.skip("prlimit (util-linux) is not installed")
    gateway = lab.gateway().start()
    traffic = Traffic(gateway)
    for _ in range(3):
        assert traffic.send().status_code == 200

    # Only the soft limit: lowering the hard one could not be undone without privileges.
    limited = subprocess.run(["prlimit", "--pid", str(gateway.pid), "--fsize=1:unlimited"], capture_output=True, text=True)
    if limited.returncode != 0:
        pytest.skip(f"cannot set another process's file size limit here: {limited.stderr.strip()}")
    traffic.until_refused()
    assert_unavailable(gateway)

    subprocess.run(["prlimit", "--pid", str(gateway.pid), "--fsize=unlimited:unlimited"], check=True)
    assert_recovers(gateway, traffic)
    assert gateway.terminate() == 0, gateway.log()[-4000:]
    assert_whole_lines(gateway.journal_dir)


def test_locked_database_refuses_then_recovers_without_losing_rows(lab):
    """Another process holds the database's write lock (a backup, an admin's sqlite3 shell)."""
    gateway = lab.gateway().start()
    traffic = Traffic(gateway)
    for _ in range(3):
        assert traffic.send().status_code == 200
    gateway.wait_for_rows(traffic.ok_ids())

    locker = sqlite3.connect(str(gateway.db_path), timeout=60, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        stream = BackgroundStream(gateway)  # admitted while the lock is held; its row must wait
        traffic.until_refused()
        assert_unavailable(gateway)
        stream.wait()
        assert stream.completed, f"the stream was cut: {stream.error} {stream.text[-200:]}"
        assert gateway.running()
        queued = rowless(gateway, traffic, [stream.request_id])
        assert queued, "every answered request already has its row: the lock queued nothing, the test proved nothing"
    finally:
        locker.execute("ROLLBACK")
        locker.close()

    assert_recovers(gateway, traffic)
    assert_one_row_each(gateway, traffic, [stream.request_id])  # the queued rows included
    assert gateway.terminate() == 0, gateway.log()[-4000:]
