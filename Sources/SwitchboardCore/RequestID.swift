import Synchronization

/// Identifiers the gateway hands out.
public enum RequestID {
    /// Random per process, so ids from different runs and replicas do not collide.
    private static let processPrefix: String = {
        var generator = SystemRandomNumberGenerator()
        return hex(generator.next() as UInt64, digits: 12)
    }()

    private static let counter = Atomic<UInt64>(0)

    /// A new request id: `req_` and 24 hex digits, unique within the process and,
    /// by its random prefix, across processes. Cheaper than 12 fresh random bytes
    /// per request, and ids need to be unique, not secret.
    public static func make() -> String {
        let sequence = counter.add(1, ordering: .relaxed).newValue
        return "req_" + processPrefix + hex(sequence, digits: 12)
    }

    private static func hex(_ value: UInt64, digits: Int) -> String {
        let text = String(value & ((1 << (4 * UInt64(digits))) - 1), radix: 16)
        return String(repeating: "0", count: digits - text.count) + text
    }
}
