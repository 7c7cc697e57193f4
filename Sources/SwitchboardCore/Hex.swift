/// Lowercase hex, without Foundation's formatter (which is slow on the hot path).
public enum Hex {
    /// The digits, by value.
    public static let digits = Array("0123456789abcdef".utf8)

    /// Two digits per byte, high half first. Inlinable so that callers in
    /// other modules get it specialized for their byte sequence: unspecialized,
    /// iterating an HMAC's digest allocated once per byte (32 per request).
    @inlinable
    public static func encode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The same for bytes in memory (a digest's), written straight into the string.
    public static func encode(_ bytes: UnsafeRawBufferPointer) -> String {
        String(unsafeUninitializedCapacity: 2 * bytes.count) { out in
            for (index, byte) in bytes.enumerated() {
                out[2 * index] = digits[Int(byte >> 4)]
                out[2 * index + 1] = digits[Int(byte & 0x0F)]
            }
            return 2 * bytes.count
        }
    }
}
