import Foundation
import NIOCore
import NIOPosix
import Storage
import SwitchboardCore
import Synchronization
import Testing

@testable import Engine

/// How the ledger writer tells a row the database refuses from a database that
/// cannot write: the first is cut down or dropped alone, the second keeps every
/// unwritten row queued until it can. Driven by a scripted sink, no database.
@Suite struct LedgerWriterTests {
    /// Refuses rows whose model is over 128 characters (a cut-down copy passes)
    /// and rows named `poison` (always); while `down`, writes nothing; with
    /// `downAfter` set, fails whole batches and goes down after that many more
    /// single-row writes.
    final class ScriptedSink: LedgerSink, Sendable {
        struct State {
            var stored: [LedgerRow] = []
            var down = false
            var downAfter: Int?
            /// Rows whose every write fails as if the database could not write.
            var cursed: Set<String> = []
        }
        let state = Mutex(State())

        func appendLedger(_ rows: [LedgerRow]) async throws {
            try state.withLock { state in
                if state.down { throw StoreError(.unavailable, "disk full") }
                if let left = state.downAfter {
                    guard rows.count == 1, left > 0 else {
                        if left == 0 { state.down = true }
                        throw StoreError(.unavailable, "disk full")
                    }
                    state.downAfter = left - 1
                }
                if rows.contains(where: { state.cursed.contains($0.requestID) }) { throw StoreError(.unavailable, "malformed JSON") }
                for row in rows where row.requestID == "poison" || (row.model?.count ?? 0) > 128 {
                    throw StoreError(.rejected, "constraint")
                }
                let known = Set(state.stored.map(\.requestID))
                state.stored += rows.filter { !known.contains($0.requestID) }
            }
        }

        var storedIDs: [String] { state.withLock { $0.stored.map(\.requestID) } }
    }

    func row(_ id: String, model: String = "gpt-4o") -> LedgerRow {
        LedgerRow(requestID: id, createdAt: Date(), dialect: "openai_chat", model: model, status: 200, outcome: .ok)
    }

    func writer(_ sink: ScriptedSink) -> LedgerWriter { LedgerWriter(store: sink, logger: quietLogger()) }

    func record(_ rows: [LedgerRow], into writer: LedgerWriter) {
        for row in rows {
            writer.opened()
            writer.record(row)
        }
    }

    @Test func aRefusedRowIsCutDownOrDroppedAloneAndTheRestAreWritten() async throws {
        let sink = ScriptedSink()
        let ledger = writer(sink)
        record([row("a"), row("long", model: String(repeating: "m", count: 5000)), row("poison"), row("b")], into: ledger)
        await ledger.flush()
        #expect(sink.storedIDs.sorted() == ["a", "b", "long"])
        #expect(sink.state.withLock { $0.stored.first { $0.requestID == "long" }?.model?.count } == 128)
        #expect(ledger.rejectedCount == 1)
        #expect(ledger.pendingCount == 0)
    }

    @Test func aDatabaseThatCannotWriteKeepsEveryRowQueuedUntilItCan() async throws {
        let sink = ScriptedSink()
        sink.state.withLock { $0.down = true }
        let ledger = writer(sink)
        record([row("a"), row("b"), row("c")], into: ledger)
        await ledger.flush()
        await ledger.flush()
        #expect(sink.storedIDs.isEmpty)
        #expect(ledger.pendingCount == 3)
        #expect(ledger.rejectedCount == 0)

        sink.state.withLock { $0.down = false }
        await ledger.flush()
        #expect(sink.storedIDs.sorted() == ["a", "b", "c"])
        #expect(ledger.pendingCount == 0)
    }

    @Test func aRowThatAloneFailsAsIfTheDatabaseWereDownCannotHoldBackTheRest() async throws {
        let sink = ScriptedSink()
        sink.state.withLock { $0.cursed = ["cursed"] }
        let ledger = writer(sink)
        record([row("cursed"), row("a"), row("b")], into: ledger)
        await ledger.flush()
        #expect(sink.storedIDs.sorted() == ["a", "b"], "the rows behind it are written at once")
        #expect(ledger.pendingCount == 1 && ledger.rejectedCount == 0, "one failure alone is not yet a verdict")
        for round in 0..<LedgerWriter.strikesBeforeRefusal {
            record([row("more-\(round)")], into: ledger)
            await ledger.flush()
        }
        #expect(ledger.pendingCount == 0 && ledger.rejectedCount == 1, "after a few rounds it is logged and dropped")
        #expect(sink.storedIDs.count == 2 + LedgerWriter.strikesBeforeRefusal)
    }

    @Test func aDatabaseThatFailsMidBatchKeepsEveryUnwrittenRowEvenARefusedOne() async throws {
        let sink = ScriptedSink()
        sink.state.withLock { $0.downAfter = 2 }
        let ledger = writer(sink)
        record([row("a"), row("poison"), row("b"), row("c"), row("d")], into: ledger)
        await ledger.flush()
        // a was stored and poison refused; then the database went down, so even
        // poison's cut-down retry could not be tried: nothing is dropped yet.
        #expect(sink.storedIDs == ["a"])
        #expect(ledger.rejectedCount == 0)
        #expect(ledger.pendingCount == 4)

        sink.state.withLock {
            $0.down = false
            $0.downAfter = nil
        }
        await ledger.flush()
        #expect(sink.storedIDs.sorted() == ["a", "b", "c", "d"])
        #expect(ledger.rejectedCount == 1)
        #expect(ledger.pendingCount == 0)
    }
    /// Where each write that succeeded ran (its event loop, nil for none);
    /// the first `failures` writes fail as if the database could not write.
    final class WhereSink: LedgerSink, Sendable {
        let loops = Mutex<[ObjectIdentifier?]>([])
        let failures: Mutex<Int>
        init(failures: Int) { self.failures = Mutex(failures) }
        func appendLedger(_ rows: [LedgerRow]) async throws {
            let fail = failures.withLock { left in
                defer { left = max(0, left - 1) }
                return left > 0
            }
            if fail { throw StoreError(.unavailable, "disk full") }
            let loop = MultiThreadedEventLoopGroup.currentEventLoop.map { ObjectIdentifier($0) }
            loops.withLock { $0.append(loop) }
        }
    }

    /// Runs the writer's service over one recorded row and answers the loops
    /// its writes ran on. Regular flushes: stopped once the row is written. At
    /// shutdown: stopped at once, with the database failing the first batch
    /// and the row alone, so that the row can only be written by the drain
    /// (whether or not the service's loop flushed once on its way out).
    func serviceWrites(atShutdown: Bool) async throws -> [ObjectIdentifier?] {
        let sink = WhereSink(failures: atShutdown ? 2 : 0)
        let ledger = LedgerWriter(store: sink, interval: atShutdown ? .seconds(3600) : .milliseconds(10), logger: quietLogger())
        record([row("a")], into: ledger)
        let service = Task { try await ledger.run() }
        if !atShutdown {
            for _ in 0..<400 where sink.loops.withLock({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(25)) }
        }
        service.cancel()
        _ = try? await service.value
        #expect(ledger.pendingCount == 0)
        return sink.loops.withLock { $0 }
    }

    /// The writer's flushes (hundreds of rows filed into rollups and metrics)
    /// run on a thread of their own, not on an event loop serving requests;
    /// so does the drain at shutdown, while the server finishes its requests.
    @Test(arguments: [false, true])
    func theServiceWritesOnTheBackgroundThreadNotOnALoopThatServesRequests(atShutdown: Bool) async throws {
        let used = try await serviceWrites(atShutdown: atShutdown)
        let serving = Set(MultiThreadedEventLoopGroup.singleton.makeIterator().map { ObjectIdentifier($0) })
        let background = ObjectIdentifier(BackgroundThread.executor.loop)
        #expect(!used.isEmpty)
        for loop in used {
            #expect(loop == background)
            #expect(loop.map { !serving.contains($0) } == true)
        }
    }
}
