#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Requests and tokens over the last 60 seconds, in one-second buckets: cheap
/// enough to keep for every account, exact to the second.
struct SecondBuckets: Sendable {
    static let span = 60
    private var seconds = [Int64](repeating: .min, count: span)
    private var requests = [Int](repeating: 0, count: span)
    private var tokens = [Int64](repeating: 0, count: span)

    private static func second(_ date: Date) -> Int64 { Int64(date.timeIntervalSince1970.rounded(.down)) }

    private mutating func slot(_ second: Int64) -> Int {
        let index = Int(((second % Int64(Self.span)) + Int64(Self.span)) % Int64(Self.span))
        if seconds[index] != second {
            seconds[index] = second
            requests[index] = 0
            tokens[index] = 0
        }
        return index
    }

    /// Counts one request at `now`.
    mutating func addRequest(at now: Date) { requests[slot(Self.second(now))] += 1 }

    /// Counts tokens used at `now`.
    mutating func addTokens(_ count: Int64, at now: Date) {
        guard count > 0 else { return }
        tokens[slot(Self.second(now))] += count
    }

    /// Requests and tokens in the 60 seconds up to `now`.
    func totals(at now: Date) -> (requests: Int, tokens: Int64) {
        let current = Self.second(now)
        var r = 0
        var t: Int64 = 0
        for index in 0..<Self.span where seconds[index] > current - Int64(Self.span) && seconds[index] <= current {
            r += requests[index]
            t += tokens[index]
        }
        return (r, t)
    }

    /// When the oldest tokens still counted leave the window.
    func tokensFreeAt(_ now: Date) -> Date {
        let current = Self.second(now)
        let oldest =
            (0..<Self.span)
            .filter { seconds[$0] > current - Int64(Self.span) && seconds[$0] <= current && tokens[$0] > 0 }
            .map { seconds[$0] }.min() ?? current
        return Date(timeIntervalSince1970: Double(oldest + Int64(Self.span)))
    }
}

/// Entries of a sliding window, oldest first. The oldest leave by moving a
/// start index, not by shifting the rest down (for a busy key's minute-long
/// window that was a copy of thousands of entries on every request); the
/// storage is compacted once more than half of it has left.
struct WindowLog<Entry: Sendable>: Sendable {
    private var entries: [Entry] = []
    private var head = 0

    /// How many entries are in the window.
    var count: Int { entries.count - head }

    /// The oldest entry.
    var first: Entry? { head < entries.count ? entries[head] : nil }

    /// The entry `offset` places after the oldest.
    subscript(offset: Int) -> Entry { entries[head + offset] }

    /// Adds the newest entry.
    mutating func append(_ entry: Entry) { entries.append(entry) }

    /// Drops the oldest entries as long as `leaves` says they left the
    /// window, handing each to `left` on its way out.
    mutating func drop(while leaves: (Entry) -> Bool, _ left: (Entry) -> Void = { _ in }) {
        while head < entries.count, leaves(entries[head]) {
            left(entries[head])
            head += 1
        }
        if head == entries.count {
            removeAll()
        } else if head > 64, head * 2 > entries.count {
            entries.removeFirst(head)
            head = 0
        }
    }

    /// Empties the window, keeping the storage.
    mutating func removeAll() {
        entries.removeAll(keepingCapacity: true)
        head = 0
    }

    /// Every entry in the window, oldest first.
    func reduce<Result>(_ initial: Result, _ next: (Result, Entry) -> Result) -> Result {
        entries[head...].reduce(initial, next)
    }
}

/// The start times of the requests in the last 60 seconds, exactly, for an
/// account with a requests-per-minute cap; never holds more than the cap.
struct RequestTimes: Sendable {
    static let window: TimeInterval = 60
    private var times = WindowLog<Date>()

    /// Drops the times that left the window.
    mutating func prune(_ now: Date) { times.drop { now.timeIntervalSince($0) >= Self.window } }

    /// How many requests started in the window.
    var count: Int { times.count }

    /// When the oldest request in the window leaves it.
    var oldestLeavesAt: Date? { times.first?.addingTimeInterval(Self.window) }

    /// Records a request start.
    mutating func append(_ now: Date) { times.append(now) }
}
