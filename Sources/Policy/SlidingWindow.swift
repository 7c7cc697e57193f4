import Foundation

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

/// The start times of the requests in the last 60 seconds, exactly, for an
/// account with a requests-per-minute cap; never holds more than the cap.
struct RequestTimes: Sendable {
    static let window: TimeInterval = 60
    private var times: [Date] = []
    private var head = 0

    /// Drops the times that left the window.
    mutating func prune(_ now: Date) {
        while head < times.count, now.timeIntervalSince(times[head]) >= Self.window { head += 1 }
        if head > 64, head * 2 > times.count {
            times.removeFirst(head)
            head = 0
        }
    }

    /// How many requests started in the window.
    var count: Int { times.count - head }

    /// When the oldest request in the window leaves it.
    var oldestLeavesAt: Date? { head < times.count ? times[head].addingTimeInterval(Self.window) : nil }

    /// Records a request start.
    mutating func append(_ now: Date) { times.append(now) }
}
