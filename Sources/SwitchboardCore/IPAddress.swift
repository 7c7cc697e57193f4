import Foundation

/// An IPv4 or IPv6 address, parsed from text, for range checks.
public enum IPAddress: Sendable, Equatable {
    case v4(UInt32)
    case v6([UInt8])

    /// Parses `192.0.2.1`, `2001:db8::1` or `[2001:db8::1]`; nil for anything else.
    public init?(_ text: String) {
        var text = text
        if text.hasPrefix("["), text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        if let zone = text.firstIndex(of: "%") { text = String(text[..<zone]) }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self = .v4(UInt32(bigEndian: v4.s_addr))
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            self = .v6(withUnsafeBytes(of: v6) { Array($0) })
            return
        }
        return nil
    }

    /// Whether the address is on the public internet: not unspecified,
    /// loopback, private, shared (CGNAT), link-local, benchmark, multicast or
    /// reserved; an IPv6 address that embeds an IPv4 one (mapped, NAT64, 6to4)
    /// is judged by it, and one that tunnels to an IPv4 address it does not
    /// show plainly (Teredo, local-use NAT64) is not public.
    public var isPublic: Bool {
        switch self {
        case .v4(let value):
            let blocked: [(UInt32, Int)] = [
                (0x0000_0000, 8), (0x0A00_0000, 8), (0x6440_0000, 10), (0x7F00_0000, 8), (0xA9FE_0000, 16), (0xAC10_0000, 12),
                (0xC000_0000, 24), (0xC0A8_0000, 16), (0xC612_0000, 15), (0xE000_0000, 4), (0xF000_0000, 4),
            ]
            return !blocked.contains { base, bits in value >> (32 - bits) == base >> (32 - bits) }
        case .v6(let bytes):
            guard bytes.count == 16 else { return false }
            if bytes.allSatisfy({ $0 == 0 }) { return false }  // ::
            if bytes[0..<15].allSatisfy({ $0 == 0 }), bytes[15] == 1 { return false }  // ::1
            if let embedded = embeddedV4 { return IPAddress.v4(embedded).isPublic }
            if bytes[0] == 0xFE, bytes[1] & 0xC0 == 0x80 { return false }  // fe80::/10 link-local
            if bytes[0] == 0xFE, bytes[1] & 0xC0 == 0xC0 { return false }  // fec0::/10 site-local
            if bytes[0] & 0xFE == 0xFC { return false }  // fc00::/7 unique local
            if bytes[0] == 0xFF { return false }  // multicast
            if bytes[0] == 0x20, bytes[1] == 0x01, bytes[2] == 0, bytes[3] == 0 { return false }  // 2001::/32 Teredo (tunnels to any IPv4)
            // 64:ff9b:1::/48 local NAT64
            if bytes[0] == 0x00, bytes[1] == 0x64, bytes[2] == 0xFF, bytes[3] == 0x9B, bytes[4] == 0, bytes[5] == 0x01 { return false }
            if bytes[0] == 0x01, bytes[1..<8].allSatisfy({ $0 == 0 }) { return false }  // 100::/64 discard
            if bytes[0..<12].allSatisfy({ $0 == 0 }) { return false }  // ::/96, IPv4-compatible (deprecated)
            return true
        }
    }

    /// The IPv4 address inside a mapped (`::ffff:a.b.c.d`), NAT64
    /// (`64:ff9b::a.b.c.d`) or 6to4 (`2002:aabb:ccdd::`) address.
    public var embeddedV4: UInt32? {
        guard case .v6(let b) = self, b.count == 16 else { return nil }
        func word(_ at: Int) -> UInt32 { UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3]) }
        if b[0..<10].allSatisfy({ $0 == 0 }), b[10] == 0xFF, b[11] == 0xFF { return word(12) }
        if b[0] == 0x00, b[1] == 0x64, b[2] == 0xFF, b[3] == 0x9B, b[4..<12].allSatisfy({ $0 == 0 }) { return word(12) }
        if b[0] == 0x20, b[1] == 0x02 { return word(2) }
        return nil
    }
}

/// An address range such as `10.1.0.0/16` or `fd00::/8`.
public struct CIDR: Sendable, Equatable, Codable, CustomStringConvertible {
    public var base: IPAddress
    public var bits: Int

    /// Parses `10.1.0.0/16` or `fd00::/8`; a bare address is a range of one.
    public init?(_ text: String) {
        if !text.contains("/"), let address = IPAddress(text) {
            self.base = address
            switch address {
            case .v4: self.bits = 32
            case .v6: self.bits = 128
            }
            return
        }
        let parts = text.split(separator: "/", maxSplits: 1)
        guard parts.count == 2, let base = IPAddress(String(parts[0])), let bits = Int(parts[1]) else { return nil }
        switch base {
        case .v4: guard (0...32).contains(bits) else { return nil }
        case .v6: guard (0...128).contains(bits) else { return nil }
        }
        self.base = base
        self.bits = bits
    }

    /// The range as text: `10.1.0.0/16`, `2001:db8::/32`; a range of one as its address.
    public var description: String {
        switch base {
        case .v4(let value):
            let text = [24, 16, 8, 0].map { String((value >> $0) & 0xFF) }.joined(separator: ".")
            return bits == 32 ? text : "\(text)/\(bits)"
        case .v6(let bytes):
            var address = in6_addr()
            withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes.prefix(16)) }
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            let text =
                inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count)) != nil
                ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "::"
            return bits == 128 ? text : "\(text)/\(bits)"
        }
    }

    /// Stored and sent as its text; text that is not a range fails to decode.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let range = CIDR(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an address range"))
        }
        self = range
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// Whether the range holds the address.
    public func contains(_ address: IPAddress) -> Bool {
        switch (base, address) {
        case (.v4(let a), .v4(let b)):
            return bits == 0 || a >> (32 - bits) == b >> (32 - bits)
        case (.v6(let a), .v6(let b)):
            var remaining = bits
            for index in 0..<16 where remaining > 0 {
                let take = min(8, remaining)
                let mask = UInt8(0xFF) << (8 - take)
                if a[index] & mask != b[index] & mask { return false }
                remaining -= take
            }
            return true
        default:
            return false
        }
    }
}
