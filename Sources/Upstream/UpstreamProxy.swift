import Foundation
import SwitchboardCore

/// A forward proxy upstream connections go through (`proxy:` on an account,
/// `upstream_proxy` for all): an HTTP proxy that tunnels with `CONNECT`, or a
/// SOCKS5 proxy, which resolves the upstream's name itself; either with a
/// user name and password (HTTP Basic, SOCKS5's username/password method).
public struct UpstreamProxy: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case http, socks5
    }

    public var kind: Kind
    public var host: String
    public var port: Int
    /// The proxy's user name and password, where it wants them (each at most 255 bytes).
    public var username: String?
    public var password: String?

    public init(kind: Kind, host: String, port: Int, username: String? = nil, password: String? = nil) {
        self.kind = kind
        self.host = host
        self.port = port
        self.username = username
        self.password = password
    }

    /// Reads `http://[USER[:PASSWORD]@]HOST:PORT` or `socks5://…` (`socks5h://`
    /// too: names always go to the proxy), the user and password
    /// percent-decoded; nil for anything else.
    public static func parse(_ text: String) -> UpstreamProxy? {
        guard let at = text.lastIndex(of: "@") else { return parseAddress(text) }
        guard let scheme = text.range(of: "://"), scheme.upperBound <= at else { return nil }
        let userinfo = text[scheme.upperBound..<at]
        let (user, password) =
            userinfo.firstIndex(of: ":").map { (userinfo[..<$0], Optional(userinfo[userinfo.index(after: $0)...])) } ?? (userinfo, nil)
        guard var proxy = parseAddress(String(text[..<scheme.upperBound] + text[text.index(after: at)...])),
            let name = String(user).removingPercentEncoding, !name.isEmpty, name.utf8.count <= 255,
            let secret = password.map({ String($0).removingPercentEncoding }) ?? .some(nil), (secret?.utf8.count ?? 0) <= 255
        else { return nil }
        proxy.username = name
        proxy.password = secret
        return proxy
    }

    /// The proxy without its password, as settings show and store it (the password is sealed apart).
    public var withoutPassword: String {
        var copy = self
        copy.password = nil
        return copy.description
    }

    private static func parseAddress(_ text: String) -> UpstreamProxy? {
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

    /// The proxy as written back: its user, never its password.
    public var description: String {
        let user = username.map { ($0.addingPercentEncoding(withAllowedCharacters: .urlUserAllowed) ?? $0) + "@" } ?? ""
        return "\(kind.rawValue)://\(user)\(host.contains(":") ? "[" + host + "]" : host):\(port)"
    }
}

/// Which way an account's requests leave: the gateway's default (`upstream_proxy`, or
/// direct without one), straight to the upstream, or through a proxy.
public enum Egress: Hashable, Sendable {
    case inherit
    case direct
    case proxy(UpstreamProxy)
}
