import Foundation

/// Who sent a request, as the ledger records it: the client's address and
/// its User-Agent, both bounded and safe to store and show.
public enum ClientOrigin {
    /// How many `X-Forwarded-For` hops are looked at, at most.
    public static let maxHops = 16
    /// The longest User-Agent kept, in bytes.
    public static let maxUserAgentBytes = 256

    /// The client's address: the socket's peer, unless that peer is a trusted
    /// proxy; then `X-Forwarded-For` is read from the right (the hop nearest to
    /// us first), skipping trusted proxies, and the first address that is not
    /// one is the client. A hop that is not an address stops the walk at the
    /// last trusted one: what a client wrote further left is its own claim.
    public static func address(peer: String?, forwardedFor: [String], trusted: [CIDR]) -> String? {
        guard !trusted.isEmpty, let peer, let peerAddress = IPAddress(peer), trusted.contains(where: { $0.contains(peerAddress) }) else {
            return peer
        }
        var nearest = peer
        let hops = forwardedFor.joined(separator: ",").split(separator: ",").suffix(maxHops)
        for hop in hops.reversed() {
            let text = hop.trimmingCharacters(in: .whitespaces)
            guard text.utf8.count <= 64, let address = IPAddress(text) else { return nearest }
            nearest = text
            if !trusted.contains(where: { $0.contains(address) }) { return text }
        }
        return nearest
    }

    /// A User-Agent as stored: at most `maxUserAgentBytes` bytes (cut at a
    /// character), control characters replaced by spaces; nil when empty.
    public static func userAgent(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        // The common case, short printable ASCII, is kept as it came.
        if value.utf8.count <= maxUserAgentBytes, value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return value }
        var kept = ""
        var bytes = 0
        for scalar in value.unicodeScalars {
            let length = String(scalar).utf8.count
            guard bytes + length <= maxUserAgentBytes else { break }
            bytes += length
            kept.unicodeScalars.append(scalar.value < 0x20 || scalar.value == 0x7F ? " " : scalar)
        }
        return kept
    }
}
