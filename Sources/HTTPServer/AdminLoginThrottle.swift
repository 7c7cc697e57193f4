import SwitchboardCore
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Slows down guessing of the admin token: an address with `limit` failed
/// attempts within `window` is refused (429) until the oldest of them leaves
/// the window. It remembers at most `maxAddresses`, dropping the stalest first,
/// so a flood of addresses cannot grow it without bound.
final class AdminLoginThrottle: Sendable {
    let limit: Int
    let window: TimeInterval
    let maxAddresses: Int
    let clock: any GatewayClock
    private let failures = Mutex<[String: [Date]]>([:])

    init(limit: Int = 10, window: TimeInterval = 60, maxAddresses: Int = 10_000, clock: any GatewayClock) {
        self.limit = limit
        self.window = window
        self.maxAddresses = maxAddresses
        self.clock = clock
    }

    /// Seconds until the address may try again, or nil when it may now.
    func retryAfter(_ address: String) -> Int? {
        let now = clock.now()
        return failures.withLock { table -> Int? in
            let recent = (table[address] ?? []).filter { now.timeIntervalSince($0) < window }
            table[address] = recent.isEmpty ? nil : recent
            guard recent.count >= limit, let oldest = recent.first else { return nil }
            return RetryAfter.seconds(until: oldest.addingTimeInterval(window), now: now)
        }
    }

    /// Counts a failed attempt; returns how many the address has in the window.
    @discardableResult
    func recordFailure(_ address: String) -> Int {
        let now = clock.now()
        return failures.withLock { table -> Int in
            if table[address] == nil, table.count >= maxAddresses {
                // Full: forget every address whose failures are all old, else the stalest half.
                table = table.filter { $0.value.contains { now.timeIntervalSince($0) < window } }
                if table.count >= maxAddresses {
                    let keep = table.sorted { ($0.value.last ?? .distantPast) > ($1.value.last ?? .distantPast) }.prefix(maxAddresses / 2)
                    table = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
                }
            }
            var recent = (table[address] ?? []).filter { now.timeIntervalSince($0) < window }
            recent.append(now)
            if recent.count > limit { recent.removeFirst(recent.count - limit) }
            table[address] = recent
            return recent.count
        }
    }
}
