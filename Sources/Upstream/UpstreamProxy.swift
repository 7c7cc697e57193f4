import SwitchboardCore

/// A forward proxy upstream connections go through (`proxy:` on an account,
/// `upstream_proxy` for all): an HTTP proxy that tunnels with `CONNECT`, or a
/// SOCKS5 proxy (no authentication), which resolves the upstream's name itself.
public struct UpstreamProxy: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case http, socks5
    }

    public var kind: Kind
    public var host: String
    public var port: Int

    public init(kind: Kind, host: String, port: Int) {
        self.kind = kind
        self.host = host
        self.port = port
    }

    /// Reads `http://HOST:PORT` or `socks5://HOST:PORT` (`socks5h://` too: names
    /// always go to the proxy); nil for anything else. Credentials in the URL are
    /// refused: the proxy's address is a setting, not a secret.
    public static func parse(_ text: String) -> UpstreamProxy? {
        let kind: Kind
        let rest: Substring
        if text.hasPrefix("http://") {
            (kind, rest) = (.http, text.dropFirst("http://".count))
        } else if text.hasPrefix("socks5://") {
            (kind, rest) = (.socks5, text.dropFirst("socks5://".count))
        } else if text.hasPrefix("socks5h://") {
            (kind, rest) = (.socks5, text.dropFirst("socks5h://".count))
        } else {
            return nil
        }
        let authority = rest.hasSuffix("/") ? rest.dropLast() : rest
        // A port is required: proxies have no standard one worth guessing.
        guard !authority.contains("/"), authority.last != "]", authority.contains(":"),
            let (origin, target) = UpstreamOrigin.split("http://" + authority), target == "/",
            !authority.hasSuffix(":")
        else { return nil }
        return UpstreamProxy(kind: kind, host: origin.host, port: origin.port)
    }

    /// The proxy as written back (never with credentials: it has none).
    public var description: String {
        "\(kind.rawValue)://\(host.contains(":") ? "[" + host + "]" : host):\(port)"
    }
}

/// Which way an account's requests leave: the gateway's default (`upstream_proxy`, or
/// direct without one), straight to the upstream, or through a proxy.
public enum Egress: Hashable, Sendable {
    case inherit
    case direct
    case proxy(UpstreamProxy)
}
