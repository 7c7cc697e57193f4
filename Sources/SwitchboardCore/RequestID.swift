import Synchronization

/// Identifiers the gateway hands out.
public enum RequestID {
    /// Random per process, so ids from different runs and replicas do not collide.
    private static let processPrefix: String = {
        var generator = SystemRandomNumberGenerator()
        return withUnsafeBytes(of: generator.next() as UInt64) { Hex.encode($0.prefix(6)) }
    }()

    private static let counter = Atomic<UInt64>(0)

    /// A new request id: `req_` and 24 hex digits, unique within the process and,
    /// by its random prefix, across processes. Cheaper than 12 fresh random bytes
    /// per request, and ids need to be unique, not secret.
    public static func make() -> String {
        let sequence = counter.add(1, ordering: .relaxed).newValue
        // Written into one buffer (this runs for every request): the prefix, then the
        // sequence's low 48 bits as 12 lowercase hex digits.
        return String(unsafeUninitializedCapacity: 28) { buffer in
            var index = 0
            for byte in "req_".utf8 {
                buffer[index] = byte
                index += 1
            }
            for byte in processPrefix.utf8.prefix(12) {
                buffer[index] = byte
                index += 1
            }
            for shift in stride(from: 44, through: 0, by: -4) {
                buffer[index] = Hex.digits[Int(truncatingIfNeeded: (sequence >> UInt64(shift)) & 0xF)]
                index += 1
            }
            return index
        }
    }

}
