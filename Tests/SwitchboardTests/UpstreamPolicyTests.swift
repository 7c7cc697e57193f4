import Engine
import Foundation
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import SwitchboardApp
import SwitchboardCore
import SwitchboardTesting
import Testing
import Upstream

/// Where an account may send its secret: public addresses only, unless the
/// settings say otherwise; checked when saved and on every connection.
@Suite struct UpstreamPolicyTests {
    @Test func privateLoopbackAndLinkLocalAddressesAreNotPublic() {
        for text in [
            "127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "0.0.0.0", "100.64.0.1",
            "::1", "::", "fe80::1", "fd00::1", "fc00::2", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::", "[::1]", "ff02::1", "224.0.0.1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "64:ff9b:1::a00:1", "100::1",
        ] {
            #expect(IPAddress(text)?.isPublic == false, "\(text)")
        }
        for text in ["8.8.8.8", "1.1.1.1", "172.32.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2001:4860:4860::8888"] {
            #expect(IPAddress(text)?.isPublic == true, "\(text)")
        }
    }

    @Test func baseURLsAreCheckedForTheirFormAndAddress() throws {
        let strict = UpstreamPolicy()
        #expect(throws: UpstreamPolicy.Refusal.self) { try strict.check(baseURL: "ftp://example.com") }
        #expect(throws: UpstreamPolicy.Refusal.self) { try strict.check(baseURL: "http:///v1") }
        #expect(throws: UpstreamPolicy.Refusal.self) { try strict.check(baseURL: "https://user:pw@example.com") }
        #expect(throws: UpstreamPolicy.Refusal.self) { try strict.check(baseURL: "http://169.254.169.254/latest") }
        #expect(throws: UpstreamPolicy.Refusal.self) { try strict.check(baseURL: "http://[::ffff:10.0.0.1]:8000/v1") }
        #expect(throws: UpstreamPolicy.Refusal.self) { try strict.check(baseURL: "http://localhost:11434/v1") }
        try strict.check(baseURL: "https://93.184.215.14/v1")
        // Allowed ranges and names.
        let lan = UpstreamPolicy(allowHosts: ["vllm.lan", "10.1.0.0/16", "fd00::/8"])
        try lan.check(baseURL: "http://10.1.2.3:8000/v1")
        try lan.check(baseURL: "http://[fd00::5]:8000/v1")
        try lan.check(baseURL: "http://VLLM.lan./v1", resolve: false)
        #expect(throws: UpstreamPolicy.Refusal.self) { try lan.check(baseURL: "http://10.2.0.1/v1") }
        try UpstreamPolicy(allowPrivate: true).check(baseURL: "http://127.0.0.1:1234")
    }

    /// The check on the connected socket, not the name: a host name that
    /// reaches loopback is refused even when nothing checked it at save time
    /// (as after a DNS change).
    @Test func theTransportRefusesToConnectToAPrivateAddress() async throws {
        let fake = FakeUpstream(acceptedKeys: ["k"])
        try await withThrowingTaskGroup(of: Void.self) { group in
            let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
            group.addTask { try await fake.application(onListening: { continuation.yield($0) }).run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let strict = HTTP1Transport(policy: UpstreamPolicy())
            let open = HTTP1Transport(policy: UpstreamPolicy(allowHosts: ["127.0.0.0/8"]))
            func request(_ host: String) -> UpstreamRequest {
                UpstreamRequest(
                    provider: .openai, baseURL: "http://\(host):\(port)/v1", secret: "k", operation: .listModels, body: ByteBuffer(),
                    forwardedHeaders: [])
            }
            for host in ["localhost", "127.0.0.1"] {
                await #expect(throws: TransportFailure.addressRefused) { _ = try await strict.send(request(host)) }
            }
            #expect(fake.received.isEmpty, "nothing reached the private address")
            let allowed = try await open.send(request("localhost"))
            #expect(allowed.status == 200)  // the fake answered: the allowed range let it through
            try await strict.shutdown()
            try await open.shutdown()
            group.cancelAll()
        }
    }

    @Test func adminsCannotPointAnAccountAtAPrivateHostOrMoveItsSecretWithoutIt() async throws {
        let token = "admin-token-0123456789abcdef"
        try await withHarness(configure: {
            $0.adminToken = token
            $0.upstreamPolicy = UpstreamPolicy(allowHosts: ["127.0.0.1/32"])  // the fake's address only
        }) { harness in
            func create(_ baseURL: String) async throws -> Harness.Reply {
                try await harness.admin(
                    "/accounts", method: .POST,
                    body: #"{"name":"n\#(baseURL.count)","provider":"openai","api_key":"sk-x","models":["m"],"base_url":"\#(baseURL)"}"#,
                    token: token)
            }
            for refused in ["http://169.254.169.254/v1", "http://10.0.0.1:8000/v1", "http://127.0.0.2:1/v1", "file:///etc/passwd"] {
                let reply = try await create(refused)
                #expect(reply.status == 400, "\(refused)")
            }
            #expect(try await create("http://127.0.0.1:\(harness.fakePort)/v1").status == 201)
            // Moving where the secret goes needs the secret.
            let moved = try await harness.admin(
                "/accounts/openai-1", method: .PATCH, body: #"{"base_url":"https://attacker.example/v1"}"#, token: token)
            #expect(moved.status == 400 && moved.body.contains("api_key"))
            let withKey = try await harness.admin(
                "/accounts/openai-1", method: .PATCH, body: #"{"base_url":"http://127.0.0.1:\#(harness.fakePort)/v2","api_key":"sk-new"}"#,
                token: token)
            #expect(withKey.status == 200)
        }
    }

    @Test func aConfigAccountAtAPrivateAddressStopsTheStart() async throws {
        var config = Configuration()
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        config.database = "sqlite:\(directory)/switchboard.db"
        config.accounts = [.init(name: "metadata", provider: .openai, baseURL: "http://169.254.169.254/v1", apiKey: "sk", models: ["m"])]
        await #expect(throws: ConfigurationError.self) { _ = try await Switchboard.build(config, logger: quietLogger()) }
    }
}
