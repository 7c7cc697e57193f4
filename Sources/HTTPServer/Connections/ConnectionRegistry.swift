import NIOCore
import Synchronization

/// Every client connection the server holds, and which of them could go to
/// make room: at `capacity`, a new connection evicts the one that has waited
/// longest without a request in progress (a slow or silent sender, or an idle
/// keep-alive), and is closed at once only when every connection is busy. So a
/// flood of slow sockets cannot lock real clients out: they take the room of
/// the slowest.
final class ConnectionRegistry: Sendable {
    /// Connections held at once.
    let capacity: Int
    private let state = Mutex(State())

    struct State: Sendable {
        var entries: [ObjectIdentifier: Entry] = [:]
        var evictions = 0
        var refusals = 0
    }

    struct Entry: Sendable {
        var channel: any Channel
        var evictable: Bool
        /// When it became evictable (or opened).
        var since: NIODeadline
    }

    init(capacity: Int) { self.capacity = max(1, capacity) }

    /// Connections held now.
    var count: Int { state.withLock { $0.entries.count } }

    /// Connections closed to make room, and connections refused for want of any.
    var counters: (evicted: Int, refused: Int) { state.withLock { ($0.evictions, $0.refusals) } }

    /// What `admit` decided.
    private enum Admission {
        case admitted(evicting: (any Channel)?)
        case refused
    }

    /// Admits a new connection, closing the stalest idle one if the server is
    /// full; false when every connection is busy (the new one must be closed).
    func admit(_ channel: any Channel, now: NIODeadline) -> Bool {
        let admission = state.withLock { state -> Admission in
            var victim: (any Channel)?
            if state.entries.count >= capacity {
                guard let stalest = state.entries.filter({ $0.value.evictable }).min(by: { $0.value.since < $1.value.since }) else {
                    state.refusals += 1
                    return .refused
                }
                state.entries[stalest.key] = nil
                state.evictions += 1
                victim = stalest.value.channel
            }
            state.entries[ObjectIdentifier(channel)] = Entry(channel: channel, evictable: true, since: now)
            return .admitted(evicting: victim)
        }
        guard case .admitted(let victim) = admission else { return false }
        victim?.close(promise: nil)
        return true
    }

    /// The connection started or finished a request.
    func update(_ channel: any Channel, evictable: Bool, now: NIODeadline) {
        state.withLock { state in
            guard var entry = state.entries[ObjectIdentifier(channel)], entry.evictable != evictable else { return }
            entry.evictable = evictable
            entry.since = now
            state.entries[ObjectIdentifier(channel)] = entry
        }
    }

    /// The connection closed.
    func remove(_ channel: any Channel) {
        state.withLock { $0.entries[ObjectIdentifier(channel)] = nil }
    }
}
