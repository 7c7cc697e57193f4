import Foundation
import NIOCore
import NIOPosix
import SwitchboardCore

/// Where accounts may send requests, and with them their secrets: a base URL
/// must be `http` or `https` with a host, and the addresses it reaches must be
/// public, unless `allowPrivate` is set (a local vLLM or Ollama, tests) or the
/// host is named in `allowHosts` (host names, IP addresses or CIDR ranges,
/// e.g. `vllm.lan`, `10.1.0.0/16`). The check runs when a URL is saved and
/// again on every new connection, against the address actually connected to,
/// so a name that later resolves elsewhere (DNS rebinding) is still refused.
public struct UpstreamPolicy: Sendable, Equatable {
    /// Whether private, loopback and link-local addresses are allowed everywhere.
    public var allowPrivate = false
    /// Host names (any address they resolve to is allowed), addresses and CIDR ranges.
    public var allowHosts: [String] = []
    /// The proxy upstream connections go through unless an account says otherwise (`upstream_proxy`).
    public var defaultProxy: UpstreamProxy?

    /// The proxy a request's connection goes through, if any.
    public func proxy(for egress: Egress) -> UpstreamProxy? {
        switch egress {
        case .inherit: return defaultProxy
        case .direct: return nil
        case .proxy(let proxy): return proxy
        }
    }

    /// Checks a proxy's address as a base URL's is checked: the proxy sees
    /// every request sent through it.
    public func checkResolving(proxy: UpstreamProxy) async throws(Refusal) {
        do {
            try await checkResolving(baseURL: "http://\(proxy.host.contains(":") ? "[" + proxy.host + "]" : proxy.host):\(proxy.port)")
        } catch {
            throw Refusal(description: "proxy: " + error.description.replacingOccurrences(of: "base_url", with: "the proxy"))
        }
    }

    /// Nothing private allowed.
    public init(allowPrivate: Bool = false, allowHosts: [String] = []) {
        self.allowPrivate = allowPrivate
        self.allowHosts = allowHosts
    }

    /// Why a base URL is refused, said for an admin.
    public struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// Checks a base URL's form and its host: an address literal is checked at
    /// once, a name is resolved and every address it gives is checked (unless
    /// the name is allowed by itself). A name that does not resolve passes:
    /// the check on every connection still holds.
    public func check(baseURL: String, resolve: Bool = true) throws(Refusal) {
        guard let url = URL(string: baseURL), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw Refusal(description: "base_url must be an http or https URL")
        }
        guard let host = url.host, !host.isEmpty else { throw Refusal(description: "base_url must name a host") }
        if url.user != nil || url.password != nil { throw Refusal(description: "base_url must not carry a user or password") }
        if allowPrivate || allowsName(host) { return }
        if let address = IPAddress(host) {
            guard allows(address) else { throw Refusal(description: Self.privateRefusal) }
            return
        }
        guard resolve else { return }
        // A name that does not resolve now is let through: every connection is checked anyway.
        guard Self.resolve(host).allSatisfy(allows) else { throw Refusal(description: Self.privateRefusal) }
    }

    /// `check(baseURL:)` with the name lookup on the lookups' thread pool.
    public func checkResolving(baseURL: String) async throws(Refusal) {
        try check(baseURL: baseURL, resolve: false)
        guard let host = URL(string: baseURL)?.host, !allowPrivate, !allowsName(host), IPAddress(host) == nil else { return }
        let addresses = (try? await ThreadPoolResolver.lookups.runIfActive { Self.resolve(host) }) ?? []
        guard addresses.allSatisfy(allows) else { throw Refusal(description: Self.privateRefusal) }
    }

    static let privateRefusal =
        "base_url reaches a private, loopback or link-local address; set allow_private_upstreams or list the host in upstream_allow_hosts"

    /// Whether a host name is allowed by name (any address it resolves to).
    public func allowsName(_ host: String) -> Bool {
        let name = Self.bare(host)
        return allowHosts.contains { !$0.contains("/") && IPAddress($0) == nil && Self.bare($0) == name }
    }

    /// Whether an address may be connected to: a public one, or one the
    /// settings allow.
    public func allows(_ address: IPAddress) -> Bool {
        if allowPrivate || address.isPublic { return true }
        return allowHosts.contains { entry in
            if let cidr = CIDR(entry) { return cidr.contains(address) }
            return IPAddress(entry) == address
        }
    }

    /// Whether a connected socket's peer may be used.
    public func allows(_ socket: SocketAddress?) -> Bool {
        if allowPrivate { return true }
        guard let text = socket?.ipAddress, let address = IPAddress(text) else { return false }
        return allows(address)
    }

    /// A host name lowercased, without brackets or a trailing dot.
    static func bare(_ host: String) -> String {
        var name = host.lowercased()
        if name.hasPrefix("["), name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        while name.hasSuffix(".") { name.removeLast() }
        return name
    }

    /// The addresses a name resolves to (the system resolver, as connections use).
    static func resolve(_ host: String) -> [IPAddress] {
        ThreadPoolResolver.resolve(host, port: 0).compactMap { $0.ipAddress.flatMap(IPAddress.init) }
    }
}
