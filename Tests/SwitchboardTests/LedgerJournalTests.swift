import Foundation
import Logging
import Policy
import SwitchboardCore
import Synchronization
import Testing

@testable import Engine
@testable import Storage

/// The write-ahead journal on a real directory: what is opened and not closed
/// survives a restart; closed requests and full segments go away.
@Suite struct LedgerJournalTests {
    static func entry(_ id: String, hold: Money = Money(dollars: "0.5")!) -> LedgerJournal.Entry {
        LedgerJournal.Entry(
            requestID: id, createdAt: Date(timeIntervalSince1970: 1_800_000_000), keyID: 7, keyName: "k", userName: nil,
            dialect: "openai_chat", model: "gpt-4o-mini", stream: true, hold: hold, holdTokens: 1000, promptBytes: 400,
            multiplierPPM: 1_000_000)
    }

    /// A journal running in a task, as the service runs it.
    static func running(_ directory: String, segmentBytes: Int = 8 << 20, _ body: (LedgerJournal) async throws -> Void) async throws {
        let journal = try LedgerJournal(directory: directory, segmentBytes: segmentBytes, logger: quietLogger())
        let task = Task { await journal.run() }
        try await body(journal)
        journal.stop()
        await task.value
    }

    @Test func openRequestsSurviveARestartAndClosedOnesDoNot() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await Self.running(directory) { journal in
            for id in ["a", "b", "c"] { try await journal.open(Self.entry(id)) }
            journal.progress(
                "b",
                .init(
                    accountID: 1, accountName: "acct", provider: "openai", upstreamModel: "gpt-4o-mini", deliveredBytes: 900, deliveredTextBytes: 400)
            )
            journal.close(["a"])
        }
        // A new process reads what the last one left.
        let reopened = try LedgerJournal(directory: directory, logger: quietLogger())
        let interrupted = try reopened.interrupted()
        #expect(interrupted.map(\.entry.requestID) == ["b", "c"])
        #expect(interrupted[0].progress?.deliveredTextBytes == 400 && interrupted[1].progress == nil)
        reopened.clearRecovered()
        #expect(try LedgerJournal(directory: directory, logger: quietLogger()).interrupted().isEmpty)
    }

    /// A request may go upstream while its record is written, so its row (and
    /// its close) can come before the write finishes: the close still counts,
    /// and the segments it was opened in still go away.
    @Test func aRequestClosedBeforeItsRecordWasWrittenLeavesNothingOpen() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await Self.running(directory, segmentBytes: 2048) { journal in
            for id in 0..<40 {
                let ticket = journal.begin(Self.entry("early\(id)"))
                journal.close(["early\(id)"])  // before the writer has run for it
                try await ticket.written()
            }
            #expect(journal.state.withLock { $0.openIn.isEmpty && $0.unwritten.isEmpty && $0.closedEarly.isEmpty })
            try await journal.open(Self.entry("last"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).count <= 2, "retired segments with nothing open are gone")
        #expect(try LedgerJournal(directory: directory, logger: quietLogger()).interrupted().map(\.entry.requestID) == ["last"])
    }

    @Test func aLineCutByTheCrashIsSkipped() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await Self.running(directory) { journal in try await journal.open(Self.entry("whole")) }
        let segment = try #require(try FileManager.default.contentsOfDirectory(atPath: directory).first)
        let handle = try #require(FileHandle(forWritingAtPath: directory + "/" + segment))
        handle.seekToEndOfFile()
        handle.write(Data(#"{"op":"o","id":"cut","entry":{"requestID":"cu"#.utf8))
        try handle.close()
        #expect(try LedgerJournal(directory: directory, logger: quietLogger()).interrupted().map(\.entry.requestID) == ["whole"])
    }

    @Test func fullSegmentsAreDeletedOnceEverythingTheyOpenedIsClosed() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await Self.running(directory, segmentBytes: 2048) { journal in
            for id in 0..<40 { try await journal.open(Self.entry("r\(id)")) }
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory).count > 3, "small segments fill and rotate")
            journal.close((0..<40).map { "r\($0)" })
            try await journal.open(Self.entry("last"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).count <= 2, "retired segments with nothing open are gone")
        #expect(try LedgerJournal(directory: directory, logger: quietLogger()).interrupted().map(\.entry.requestID) == ["last"])
    }

    /// A service group that gives up cancels the journal rather than stopping it:
    /// its thread still writes what it has and ends.
    @Test(.timeLimit(.minutes(1))) func aCancelledJournalEndsWithItsLinesWritten() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let journal = try LedgerJournal(directory: directory, logger: quietLogger())
        let task = Task { await journal.run() }
        try await journal.open(Self.entry("open"))
        journal.progress(
            "open", .init(accountID: 1, accountName: "acct", provider: "openai", upstreamModel: "m", deliveredBytes: 9, deliveredTextBytes: 4))
        task.cancel()
        await task.value
        let interrupted = try LedgerJournal(directory: directory, logger: quietLogger()).interrupted()
        #expect(interrupted.map(\.entry.requestID) == ["open"])
        #expect(interrupted.first?.progress?.deliveredBytes == 9, "the unsynced progress note was written on the way out")
    }

    /// The segment stays open between batches; one removed under the journal (an
    /// operator clearing the directory) is created again, so later opens are on disk.
    @Test func aSegmentRemovedWhileRunningIsCreatedAgain() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await Self.running(directory) { journal in
            try await journal.open(Self.entry("before"))
            for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
                try FileManager.default.removeItem(atPath: directory + "/" + name)
            }
            try await journal.open(Self.entry("after"))
        }
        #expect(try LedgerJournal(directory: directory, logger: quietLogger()).interrupted().map(\.entry.requestID) == ["after"])
    }

    /// A journal that cannot be written refuses opens (so requests are refused),
    /// and finds out by itself when it can write again: nothing else would wake it.
    @Test func aJournalThatFailedRecoversByItselfWhenWritingWorksAgain() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The first segment's path is taken by a directory: every write fails.
        let journal = try LedgerJournal(directory: directory, logger: quietLogger())
        let blocker = directory + "/segment-00000001.log"
        try FileManager.default.createDirectory(atPath: blocker, withIntermediateDirectories: true)
        let task = Task { await journal.run() }
        await #expect(throws: LedgerJournal.Failure.self) { try await journal.open(Self.entry("refused")) }
        #expect(journal.unavailable != nil)
        try FileManager.default.removeItem(atPath: blocker)
        for _ in 0..<200 where journal.unavailable != nil { try await Task.sleep(for: .milliseconds(50)) }
        #expect(journal.unavailable == nil, "the probe found the journal writable again")
        try await journal.open(Self.entry("later"))
        journal.stop()
        await task.value
        #expect(try LedgerJournal(directory: directory, logger: quietLogger()).interrupted().map(\.entry.requestID) == ["later"])
    }

    @Test func aJournalWithNothingToWriteIsNeverTakenForAHungOne() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let journal = try LedgerJournal(directory: directory, stallTimeout: .milliseconds(20), logger: quietLogger())
        await journal.flush()  // nothing pending (a second wake for a batch already written): no write starts
        try await Task.sleep(for: .milliseconds(100))
        #expect(journal.unavailable == nil, "an idle journal is not a hung one")
    }

    @Test func aWriteThatHangsMakesTheJournalUnavailableUntilItFinishes() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The first segment is a FIFO nobody reads: opening it for writing blocks,
        // as a write to a hung disk (a dead NFS server) would.
        let journal = try LedgerJournal(directory: directory, stallTimeout: .milliseconds(20), logger: quietLogger())
        let fifo = directory + "/segment-00000001.log"
        try #require(mkfifo(fifo, 0o600) == 0)
        let task = Task { await journal.run() }
        let waiting = Task { try await journal.open(Self.entry("stuck")) }
        for _ in 0..<400 where journal.unavailable == nil { try await Task.sleep(for: .milliseconds(25)) }
        #expect(journal.unavailable?.contains("waiting") == true, "a write hung past the stall timeout refuses new requests")

        // The disk answers: the write ends (a FIFO cannot be synced, so as a
        // failure), and the journal no longer reports a hang.
        let reader = Foundation.open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        #expect(reader >= 0)
        _ = try? await waiting.value
        #expect(journal.unavailable?.contains("waiting") != true)
        // With a real file in its place, the probe finds the journal writable again.
        try FileManager.default.removeItem(atPath: fifo)
        _ = Foundation.close(reader)
        for _ in 0..<400 where journal.unavailable != nil { try await Task.sleep(for: .milliseconds(25)) }
        #expect(journal.unavailable == nil)
        try await journal.open(Self.entry("later"))
        journal.stop()
        await task.value
    }

    @Test func anInterruptedRequestIsChargedItsDeliveredTextOrItsHold() throws {
        let prices = try PriceTable(json: Data(#"{"gpt-4o-mini":{"input_cost_per_token":0.000001,"output_cost_per_token":0.000002}}"#.utf8))
        let progress = LedgerJournal.Progress(
            accountID: 1, accountName: "acct", provider: "openai", upstreamModel: "gpt-4o-mini", deliveredBytes: 900, deliveredTextBytes: 400)
        var entry = Self.entry("a")
        entry.session = "0123456789abcdef0123456789abcdef"
        let estimated = JournalRecovery.row(.init(entry: entry, progress: progress), prices: prices)
        #expect(estimated.outcome == .interrupted && estimated.usageSource == .estimated && estimated.accountName == "acct")
        #expect(estimated.session == entry.session, "an interrupted row stays in its session")
        #expect(estimated.usage == TokenUsage(inputUncached: 100, output: 100))
        #expect(estimated.cost == Money(picos: 100 * 1_000_000 + 100 * 2_000_000))
        let held = JournalRecovery.row(.init(entry: Self.entry("b"), progress: nil), prices: prices)
        #expect(held.cost == Money(dollars: "0.5") && held.usage.total == 1000, "nothing known delivered: the hold")
    }

    /// Lines are written by hand (for speed) and read back by `JSONDecoder`:
    /// every field, and text a client or operator chose (quotes, backslashes,
    /// control characters, any script), must come back exactly.
    @Test func aLineReadsBackAsTheRecordItWasWrittenFrom() throws {
        let awkward = "q\"b\\n\n\u{1}\u{1F}é漢😀\u{7F}"
        let entries = [
            LedgerJournal.Entry(
                requestID: "req-" + awkward, createdAt: Date(timeIntervalSince1970: 1_800_000_000.5), keyID: Int64.min, keyName: awkward,
                userName: awkward, dialect: "anthropic_messages", model: awkward, stream: false, hold: Money(picos: .max),
                holdTokens: 1_000_000_000, promptBytes: Int.max, multiplierPPM: -1, session: awkward),
            LedgerJournal.Entry(
                requestID: "", createdAt: Date(timeIntervalSince1970: 0), keyID: nil, keyName: nil, userName: nil, dialect: "", model: nil,
                stream: true, hold: .zero, holdTokens: 0, promptBytes: 0, multiplierPPM: 0),
        ]
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        for entry in entries {
            let line = LedgerJournal.line(.init(op: "o", id: entry.requestID, entry: entry))
            #expect(line.last == UInt8(ascii: "\n") && line.dropLast().allSatisfy { $0 != UInt8(ascii: "\n") }, "one line")
            let record = try decoder.decode(LedgerJournal.Record.self, from: Data(line))
            #expect(record.op == "o" && record.id == entry.requestID && record.entry == entry && record.progress == nil)
        }
        let progress = LedgerJournal.Progress(
            accountID: 3, accountName: awkward, provider: nil, upstreamModel: "m", deliveredBytes: .max, deliveredTextBytes: 0)
        let record = try decoder.decode(LedgerJournal.Record.self, from: Data(LedgerJournal.line(.init(op: "p", id: "x", progress: progress))))
        #expect(record.progress == progress && record.entry == nil)
    }
}
