import SwitchboardCore

/// Where an upstream URL goes: scheme, host and port (what a pooled connection
/// is for) and the request target sent on it. Read by hand: a URL parse per
/// request costs more than everything else in choosing a connection.
struct UpstreamOrigin: Hashable, Sendable {
    /// Whether the connection is TLS.
    var secure: Bool
    /// The host as written (an IPv6 literal without its brackets), lowercased.
    var host: String
    /// The TCP port.
    var port: Int
    /// The proxy connections to the origin go through (pooled apart from direct ones).
    var proxy: UpstreamProxy?

    /// The `Host` header: the host, and the port when it is not the scheme's own.
    var hostHeader: String {
        let name = host.contains(":") ? "[" + host + "]" : host
        return port == (secure ? 443 : 80) ? name : name + ":" + String(port)
    }

    /// Whether the host is an address literal (no SNI is sent for one).
    var isAddress: Bool { IPAddress(host) != nil }

    /// Splits an absolute `http` or `https` URL into its origin and request
    /// target (path and query, `/` when empty); nil for anything else, a user
    /// part, or a port outside 1...65535.
    static func split(_ url: String) -> (origin: UpstreamOrigin, target: String)? {
        let secure: Bool
        var rest: Substring
        if url.utf8.starts(with: "https://".utf8) {
            secure = true
            rest = url.dropFirst(8)
        } else if url.utf8.starts(with: "http://".utf8) {
            secure = false
            rest = url.dropFirst(7)
        } else {
            return nil
        }
        // Scanned as UTF-8 bytes: walking Characters costs grapheme breaking on every request.
        let authorityEnd =
            rest.utf8.firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        rest = rest[authorityEnd...]
        if let fragment = rest.utf8.firstIndex(of: UInt8(ascii: "#")) { rest = rest[..<fragment] }
        let target = rest.isEmpty ? "/" : (rest.utf8.first == UInt8(ascii: "?") ? "/" + rest : String(rest))
        guard !authority.isEmpty, !authority.utf8.contains(UInt8(ascii: "@")) else { return nil }
        var host: Substring
        var portText: Substring?
        if authority.utf8.first == UInt8(ascii: "[") {
            guard let close = authority.utf8.firstIndex(of: UInt8(ascii: "]")) else { return nil }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.utf8.first == UInt8(ascii: ":") else { return nil }
                portText = after.dropFirst()
            }
        } else if let colon = authority.utf8.firstIndex(of: UInt8(ascii: ":")) {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        guard !host.isEmpty else { return nil }
        var port = secure ? 443 : 80
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else { return nil }
            port = value
        }
        return (UpstreamOrigin(secure: secure, host: host.lowercased(), port: port), target)
    }
}
