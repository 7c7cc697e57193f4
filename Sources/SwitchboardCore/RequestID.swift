/// Identifiers the gateway hands out.
public enum RequestID {
    /// A new request id: `req_` and 24 random hex digits.
    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        return "req_" + hex(generator.next()) + hex(UInt64(truncatingIfNeeded: generator.next() as UInt32))
            .suffix(8)
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
