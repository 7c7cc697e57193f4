import Foundation
import NIOCore
import SwitchboardCore
import Testing
import Upstream

/// Egress proxies at the transport: what a proxy setting may say, and the
/// upstream policy applied to the proxy's own address (it sees every request).
@Suite struct ProxyTests {
    @Test func aProxyIsAnHTTPOrSOCKS5AddressWithAPortAndNoCredentials() {
        #expect(UpstreamProxy.parse("http://proxy.lan:3128") == UpstreamProxy(kind: .http, host: "proxy.lan", port: 3128))
        #expect(UpstreamProxy.parse("socks5://127.0.0.1:1080/") == UpstreamProxy(kind: .socks5, host: "127.0.0.1", port: 1080))
        #expect(UpstreamProxy.parse("socks5h://[::1]:1080") == UpstreamProxy(kind: .socks5, host: "::1", port: 1080))
        #expect(UpstreamProxy.parse("socks5h://[::1]:1080")?.description == "socks5://[::1]:1080")
        let login = UpstreamProxy.parse("http://me%40team:p%3Aw@proxy.lan:3128")
        #expect(login?.username == "me@team" && login?.password == "p:w" && login?.host == "proxy.lan")
        #expect(login?.description == "http://me%40team@proxy.lan:3128" && login?.withoutPassword == login?.description, "never the password")
        for bad in [
            "https://proxy:443", "http://:secret@proxy:8080", "http://proxy", "http://proxy:", "http://proxy:8080/path",
            "socks4://proxy:1080", "http://proxy:70000", "", "direct",
        ] {
            #expect(UpstreamProxy.parse(bad) == nil, "\(bad)")
        }
    }

    @Test func aProxyOnAPrivateAddressIsRefusedLikeABaseURL() async throws {
        // Something listens there, so only the policy can refuse the connection.
        let server = try await ScriptedUpstream { _, _ in .answer() }
        var request = UpstreamRequest(
            provider: .openai, baseURL: "https://api.example.com/v1", secret: "sk-test", operation: .openAIChat,
            body: ByteBuffer(string: #"{"model":"m"}"#), forwardedHeaders: [])
        request.egress = .proxy(UpstreamProxy(kind: .http, host: "127.0.0.1", port: server.port))
        let strict = HTTP1Transport(policy: UpstreamPolicy())
        await #expect(throws: TransportFailure.addressRefused) { _ = try await strict.send(request) }
        // A private upstream address written as a literal is refused too, even through a public proxy.
        var literal = request
        literal.baseURL = "http://10.0.0.7/v1"
        literal.egress = .proxy(UpstreamProxy(kind: .socks5, host: "203.0.113.9", port: 1080))
        await #expect(throws: TransportFailure.addressRefused) { _ = try await strict.send(literal) }
        #expect(server.requests == 0)
        try await strict.shutdown()
        try await server.close()
    }

    @Test func aProxyThatRefusesTheTunnelFailsTheConnectionAndNothingIsSent() async throws {
        // An "HTTP proxy" that answers CONNECT with 403.
        let server = try await ScriptedUpstream { _, _ in .answer(status: 403) }
        var request = UpstreamRequest(
            provider: .openai, baseURL: "http://upstream.test/v1", secret: "sk-test", operation: .openAIChat,
            body: ByteBuffer(string: #"{"model":"m"}"#), forwardedHeaders: [])
        request.egress = .proxy(UpstreamProxy(kind: .http, host: "127.0.0.1", port: server.port))
        let transport = HTTP1Transport(policy: UpstreamPolicy(allowPrivate: true))
        await #expect(throws: TransportFailure.connectFailed) { _ = try await transport.send(request) }
        try await transport.shutdown()
        try await server.close()
    }
}
