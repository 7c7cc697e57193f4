import Foundation
import Logging
import NIOCore
import NIOPosix
import SwitchboardCore
import Synchronization

/// A write-ahead journal of admitted requests, so a `kill -9` cannot make the
/// ledger forget them: a request is opened here, on disk, before its answer
/// starts, and closed once its ledger row is in the database. At the next start
/// every request still open becomes an `interrupted` row.
///
/// Opens are made durable with group commit: whoever asks waits for one
/// `fdatasync` shared by everything written meanwhile, on NIO's thread pool
/// (never the async pool). Progress notes and closes need no sync: a lost close
/// only means the row is offered again (and skipped, the ledger keeps one per
/// request id); a lost progress note only means a coarser estimate.
///
/// The journal is a series of segment files; a full segment is retired for a
/// new one, and deleted once every request it opened is closed.
public final class LedgerJournal: Sendable {
    /// One admitted request, as the journal keeps it.
    public struct Entry: Sendable, Equatable, Codable {
        public var requestID: String
        public var createdAt: Date
        public var keyID: Int64?
        public var keyName: String?
        public var userName: String?
        public var dialect: String
        public var model: String?
        public var stream: Bool
        /// What the request holds (at the owner's price): charged when nothing better is known.
        public var hold: Money
        public var holdTokens: Int64
        /// The request body's size, for an input estimate.
        public var promptBytes: Int
        /// The owner's group price multiplier, in millionths.
        public var multiplierPPM: Int64
        /// Who sent it (as the ledger row records them).
        public var clientAddress: String?
        public var userAgent: String?
        /// The request's session digest (as the ledger row records it).
        public var session: String?

        public init(
            requestID: String, createdAt: Date, keyID: Int64?, keyName: String?, userName: String?, dialect: String, model: String?,
            stream: Bool, hold: Money, holdTokens: Int64, promptBytes: Int, multiplierPPM: Int64, clientAddress: String? = nil,
            userAgent: String? = nil, session: String? = nil
        ) {
            self.session = session
            self.clientAddress = clientAddress
            self.userAgent = userAgent
            self.requestID = requestID
            self.createdAt = createdAt
            self.keyID = keyID
            self.keyName = keyName
            self.userName = userName
            self.dialect = dialect
            self.model = model
            self.stream = stream
            self.hold = hold
            self.holdTokens = holdTokens
            self.promptBytes = promptBytes
            self.multiplierPPM = multiplierPPM
        }
    }

    /// How far an open request got: the account serving it, and the text delivered.
    public struct Progress: Sendable, Equatable, Codable {
        public var accountID: Int64?
        public var accountName: String?
        public var provider: String?
        public var upstreamModel: String?
        public var deliveredBytes: Int64
        public var deliveredTextBytes: Int64

        public init(
            accountID: Int64?, accountName: String?, provider: String?, upstreamModel: String?, deliveredBytes: Int64, deliveredTextBytes: Int64
        ) {
            self.accountID = accountID
            self.accountName = accountName
            self.provider = provider
            self.upstreamModel = upstreamModel
            self.deliveredBytes = deliveredBytes
            self.deliveredTextBytes = deliveredTextBytes
        }
    }

    /// A request the journal found open at start.
    public struct Interrupted: Sendable, Equatable {
        public var entry: Entry
        public var progress: Progress?

        public init(entry: Entry, progress: Progress? = nil) {
            self.entry = entry
            self.progress = progress
        }
    }

    /// Why the journal cannot take an entry now.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// One line of a segment (written by `JournalLine`, read by `JSONDecoder`).
    struct Record: Decodable {
        /// `o`pen, `p`rogress, `c`lose; `k` is a probe, read as nothing.
        var op: String
        var id: String
        var entry: Entry?
        var progress: Progress?
    }

    /// Where open requests are also told, for other replicas (nil: one process).
    public let mirror: OpenRequestMirror?
    let directory: String
    let segmentBytes: Int
    /// How long one write and sync may take before new requests are refused.
    let stallTimeout: Duration
    let logger: Logger
    let state: Mutex<State>
    private let wake: AsyncStream<Void>.Continuation
    private let wakes: AsyncStream<Void>
    private let file = SegmentFile()

    struct State: Sendable {
        var pending: [UInt8] = []
        var waiters: [Ticket] = []
        /// Requests opened in `pending`: they belong to the segment the batch is written to.
        var pendingOpens: [String] = []
        /// Requests opened but not yet on disk (pending, or in the batch being written).
        var unwritten: Set<String> = []
        /// Of those, the ones already closed: their open is not counted once written.
        var closedEarly: Set<String> = []
        var segment: Int = 0
        var segmentSize = 0
        var openIn: [String: Int] = [:]
        var openCount: [Int: Int] = [:]
        var retired: [Int] = []
        /// The last write or sync failed (a full disk): why, and when it started.
        var failing: String?
        /// When the write (and sync) under way started: one that takes too long is a hung disk.
        var writingSince: ContinuousClock.Instant?
        var stopped = false
    }

    /// Opens the journal in `directory`, with segments of `segmentBytes`.
    public init(
        directory: String, segmentBytes: Int = 8 << 20, stallTimeout: Duration = .seconds(5), mirror: OpenRequestMirror? = nil, logger: Logger
    ) throws {
        self.mirror = mirror
        self.directory = directory
        self.segmentBytes = segmentBytes
        self.stallTimeout = stallTimeout
        self.logger = logger
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let existing = Self.segments(in: directory)
        state = Mutex(State(segment: (existing.last ?? 0) + 1))
        (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Why new requests cannot be journaled now, or nil.
    public var unavailable: String? {
        state.withLock { state in
            if let failing = state.failing { return failing }
            if let since = state.writingSince, since.duration(to: .now) > stallTimeout {
                return
                    "the ledger journal has been waiting over \(DurationSyntax.format(stallTimeout)) for its disk; requests are refused until it is written"
            }
            return nil
        }
    }

    // MARK: recording

    /// Records an admitted request and returns once it is on disk.
    public func open(_ entry: Entry) async throws(Failure) {
        try await begin(entry).written()
    }

    /// Records an admitted request now (its line is queued before anything
    /// else about it can be) and returns a ticket that tells when it is on
    /// disk: the request may go upstream meanwhile, as long as its answer
    /// waits for the ticket.
    public func begin(_ entry: Entry) -> Ticket {
        let record = Record(op: "o", id: entry.requestID, entry: entry)
        let ticket = Ticket()
        let queued: Bool = state.withLock { state in
            if state.stopped { return false }
            // Written straight into the batch (a line of its own was an allocation and a copy per request).
            JournalLine.append(record, to: &state.pending)
            state.waiters.append(ticket)
            state.pendingOpens.append(entry.requestID)
            state.unwritten.insert(entry.requestID)
            return true
        }
        if queued {
            mirror?.opened(entry)
            wake.yield()
        } else {
            ticket.resolve(.failure(Failure(description: "the journal is closed")))
        }
        return ticket
    }

    /// Whether an open is on disk yet: resolved once by the batch that wrote it.
    public final class Ticket: Sendable {
        private enum Stage {
            case waiting(CheckedContinuation<Result<Void, Failure>, Never>?)
            case done(Result<Void, Failure>)
        }
        private let stage = Mutex(Stage.waiting(nil))

        /// Returns once the open is on disk, or throws why it cannot be.
        public func written() async throws(Failure) {
            let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, Failure>, Never>) in
                let done: Result<Void, Failure>? = stage.withLock { stage in
                    if case .done(let result) = stage { return result }
                    stage = .waiting(continuation)
                    return nil
                }
                if let done { continuation.resume(returning: done) }
            }
            if case .failure(let failure) = result { throw failure }
        }

        func resolve(_ result: Result<Void, Failure>) {
            let waiting: CheckedContinuation<Result<Void, Failure>, Never>? = stage.withLock { stage in
                guard case .waiting(let continuation) = stage else { return nil }
                stage = .done(result)
                return continuation
            }
            waiting?.resume(returning: result)
        }
    }

    /// Notes how far an open request got (not synced: written with the next batch).
    public func progress(_ requestID: String, _ progress: Progress) {
        let record = Record(op: "p", id: requestID, progress: progress)
        state.withLock { JournalLine.append(record, to: &$0.pending) }
    }

    /// Closes requests whose rows are now in the database; a retired segment
    /// with nothing open any more is deleted.
    public func close(_ requestIDs: [String]) {
        var lines: [UInt8] = []
        for id in requestIDs { JournalLine.append(Record(op: "c", id: id), to: &lines) }
        let done: [Int] = state.withLock { state in
            state.pending += lines
            return Self.release(requestIDs, in: &state)
        }
        mirror?.closed(requestIDs)
        for segment in done { try? FileManager.default.removeItem(atPath: path(segment)) }
    }

    private static func release(_ requestIDs: [String], in state: inout State) -> [Int] {
        var done: [Int] = []
        for id in requestIDs {
            guard let segment = state.openIn.removeValue(forKey: id) else {
                if state.unwritten.contains(id) { state.closedEarly.insert(id) }
                continue
            }
            state.openCount[segment, default: 1] -= 1
            if state.openCount[segment] == 0, state.retired.contains(segment) {
                state.openCount[segment] = nil
                state.retired.removeAll { $0 == segment }
                done.append(segment)
            }
        }
        return done
    }

    // MARK: writing

    /// Writes and syncs batches until `stop`: one `fdatasync` per batch, on the
    /// blocking thread pool.
    ///
    /// A thread of the journal's own, writing each batch the moment the last one
    /// was synced, was tried and measured worse: at 50 clients it synced seven
    /// times as often (batches of 2–3 opens instead of about 18), for 20–50% more
    /// CPU per request, and gained nothing measurable at one client.
    public func run() async {
        // While writes fail (a full disk), requests are refused and nothing wakes
        // the writer: a probe every half second finds out when it works again.
        let retry = Task {
            while !Task.isCancelled {
                try? await LoopTimer.sleep(for: .milliseconds(500))
                if state.withLock({ $0.failing != nil && !$0.stopped }) { wake.yield() }
            }
        }
        defer { retry.cancel() }
        for await _ in wakes {
            await flush()
            if state.withLock({ $0.stopped && $0.pending.isEmpty }) { break }
        }
        // Also when cancelled (a service group giving up rather than shutting down):
        // the last lines are written by a task the cancellation does not reach.
        await Task.detached { await self.flush() }.value
        file.close()
    }

    /// Stops taking opens once the queue drains.
    public func stop() {
        state.withLock { $0.stopped = true }
        wake.yield()
        wake.finish()
    }

    /// What one flush writes, and who waits for it.
    struct Batch: Sendable {
        var bytes: [UInt8]
        var waiters: [Ticket]
        /// Requests opened in it.
        var opens: [String]
        var segment: Int
        /// A synced probe line of a failing journal, not lines of requests.
        var probing: Bool
    }

    /// Writes what is pending, syncs, and answers those who waited.
    ///
    /// The batch is written, synced and settled on NIO's thread pool: the
    /// requests waiting on it are resumed from the thread that synced, not
    /// through this task first, which on a lone request's path was one more
    /// wakeup of an event loop between the sync and its answer.
    func flush() async {
        let batch = state.withLock { state -> Batch in
            defer {
                state.pending = []
                state.waiters = []
                state.pendingOpens = []
            }
            // Failing and nothing to write: a synced probe line tells whether writing works again.
            let probing = state.failing != nil && state.pending.isEmpty && state.waiters.isEmpty
            if probing || !state.pending.isEmpty || !state.waiters.isEmpty { state.writingSince = .now }
            return Batch(
                bytes: probing ? Self.probe : state.pending, waiters: state.waiters, opens: state.pendingOpens, segment: state.segment,
                probing: probing)
        }
        guard !batch.bytes.isEmpty || !batch.waiters.isEmpty else { return }
        do {
            try await NIOThreadPool.singleton.runIfActive { [self] in write(batch) }
        } catch {
            // The pool did not run it (stopped, or the wait was cancelled before it started).
            settle(batch, .failure(Failure(description: "the journal could not be written")))
        }
    }

    /// Writes and syncs a batch, then settles it (on the pool's thread).
    private func write(_ batch: Batch) {
        let written: Result<Void, Failure>
        do {
            try Self.append(
                batch.bytes, to: file, segment: batch.segment, path: { Self.path(in: directory, batch.segment) },
                sync: batch.probing || !batch.waiters.isEmpty)
            written = .success(())
        } catch {
            written = .failure(error)
        }
        settle(batch, written)
    }

    /// Records how a batch's write went and answers those who waited for it.
    private func settle(_ batch: Batch, _ written: Result<Void, Failure>) {
        let segment = batch.segment
        // Opened afresh for the next batch, as a file whose write or sync failed is not to be trusted.
        if case .failure = written { file.close() }
        let retire: Bool = state.withLock { state in
            state.writingSince = nil
            switch written {
            case .success:
                // Only a synced write of an open's size proves recovery: a few
                // bytes of closes can still fit on a disk that takes no open.
                if state.failing != nil, batch.probing || !batch.waiters.isEmpty {
                    logger.notice("ledger journal writes again")
                    state.failing = nil
                }
                state.segmentSize += batch.bytes.count
                for id in batch.opens {
                    state.unwritten.remove(id)
                    // Closed while its open was being written: nothing is left open.
                    if state.closedEarly.remove(id) != nil { continue }
                    state.openIn[id] = segment
                    state.openCount[segment, default: 0] += 1
                }
            case .failure(let failure):
                // The opens in a failed batch were refused: should their lines have
                // reached the file after all, these closes keep recovery from billing them.
                for id in batch.opens {
                    state.unwritten.remove(id)
                    state.closedEarly.remove(id)
                    JournalLine.append(Record(op: "c", id: id), to: &state.pending)
                }
                if state.failing == nil { logger.error("ledger journal cannot be written", metadata: ["reason": "\(failure)"]) }
                state.failing = "the ledger journal cannot be written (\(failure)); requests are refused until it can"
            }
            guard state.segmentSize >= segmentBytes else { return false }
            // Full: later entries go to a new segment; this one goes once all it opened are closed.
            if state.openCount[state.segment, default: 0] > 0 { state.retired.append(state.segment) }
            state.segment += 1
            state.segmentSize = 0
            return state.openCount[segment, default: 0] == 0
        }
        if retire, case .success = written { try? FileManager.default.removeItem(atPath: path(segment)) }
        for waiter in batch.waiters { waiter.resolve(written) }
    }

    /// Appends to a segment and, for opens, syncs it to disk. A write that
    /// fails part way is cut off again, so the next batch does not start in the
    /// middle of a torn line (which would spoil that batch's first record too).
    /// A failed sync leaves the whole lines in place: its opens are refused
    /// (and closed again by the caller), its closes and progress notes stand.
    static func append(_ bytes: [UInt8], to file: SegmentFile, segment: Int, path: () -> String, sync: Bool) throws(Failure) {
        let fd = try file.descriptor(segment, path: path)
        let start = lseek(fd, 0, SEEK_END)
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else {
                let failure = Failure(description: String(cString: strerror(errno)))
                if start >= 0 { _ = ftruncate(fd, start) }
                throw failure
            }
            offset += count
        }
        if sync, fdatasync(fd) != 0 { throw Failure(description: String(cString: strerror(errno))) }
    }

    /// The segment file batches are appended to, kept open from batch to batch: an
    /// open and close per batch cost a path lookup per request at one client. Only
    /// `flush` uses it, and `run` awaits each flush before the next, so it needs no
    /// lock of its own.
    final class SegmentFile: @unchecked Sendable {
        private var segment = 0
        private var fd: Int32 = -1

        /// The open descriptor of `segment`, at `path` (made only to open it). Opened
        /// again when the segment changes, or when the file was removed under it (an
        /// operator clearing the directory): appending to a file no longer on disk
        /// would make nothing durable.
        func descriptor(_ segment: Int, path: () -> String) throws(Failure) -> Int32 {
            if fd >= 0, self.segment == segment {
                var status = stat()
                if fstat(fd, &status) == 0, status.st_nlink > 0 { return fd }
            }
            close()
            let opened = Foundation.open(path(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            guard opened >= 0 else { throw Failure(description: String(cString: strerror(errno))) }
            fd = opened
            self.segment = segment
            return fd
        }

        func close() {
            if fd >= 0 { _ = Foundation.close(fd) }
            fd = -1
        }

        deinit { close() }
    }

    // MARK: recovery

    /// The requests still open in the journal's segments (from a run that
    /// ended without closing them), oldest first.
    public func interrupted() throws -> [Interrupted] {
        var open: [String: Interrupted] = [:]
        var order: [String] = []
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        for segment in Self.segments(in: directory) {
            guard let data = FileManager.default.contents(atPath: path(segment)) else { continue }
            // A line cut by the crash (the last one) does not parse and is skipped.
            for line in data.split(separator: UInt8(ascii: "\n")) {
                guard let record = try? decoder.decode(Record.self, from: Data(line)) else { continue }
                switch record.op {
                case "o":
                    if let entry = record.entry, open[record.id] == nil {
                        open[record.id] = Interrupted(entry: entry)
                        order.append(record.id)
                    }
                case "p": open[record.id]?.progress = record.progress
                case "c": open[record.id] = nil
                default: continue
                }
            }
        }
        return order.compactMap { open[$0] }
    }

    /// Forgets everything recovered (its rows are in the database now): the old segments go.
    public func clearRecovered() {
        let current = state.withLock { $0.segment }
        for segment in Self.segments(in: directory) where segment < current { try? FileManager.default.removeItem(atPath: path(segment)) }
    }

    // MARK: files

    func path(_ segment: Int) -> String { Self.path(in: directory, segment) }

    static func path(in directory: String, _ segment: Int) -> String {
        let number = String(segment)
        return directory + "/segment-" + String(repeating: "0", count: max(0, 8 - number.count)) + number + ".log"
    }

    static func segments(in directory: String) -> [Int] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .compactMap { name -> Int? in
                guard name.hasPrefix("segment-"), name.hasSuffix(".log") else { return nil }
                return Int(name.dropFirst("segment-".count).dropLast(".log".count))
            }
            .sorted()
    }

    /// What a failing journal writes to learn whether it can again: a synced
    /// line as long as a large open, so the slack of a nearly full disk does
    /// not pass for room.
    static let probe = line(Record(op: "k", id: String(repeating: "-", count: 4096)))

    static func line(_ record: Record) -> [UInt8] { JournalLine.of(record) }
}
