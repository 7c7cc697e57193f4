import Foundation
import Glibc
import NIOCore
import NIOPosix
import NIOSSL
import SwitchboardCore
import Testing

@testable import Upstream

/// The upstream client on its own, against a scripted loopback server: the
/// connection reuse, retry, TLS and bounds the gateway relies on.
@Suite struct HTTP1TransportTests {
    static func request(_ port: Int, scheme: String = "http", host: String = "127.0.0.1") -> UpstreamRequest {
        UpstreamRequest(
            provider: .openai, baseURL: "\(scheme)://\(host):\(port)/v1", secret: "sk-test", operation: .openAIChat,
            body: ByteBuffer(string: #"{"model":"m"}"#), forwardedHeaders: [])
    }

    static func text(_ response: UpstreamResponse) async throws -> String {
        String(buffer: try await response.body.collect(upTo: 1 << 20))
    }

    @Test func keptAliveConnectionsAreReused() async throws {
        let server = try await ScriptedUpstream { _, request in .answer(body: #"{"n":\#(request)}"#) }
        let transport = HTTP1Transport(policy: UpstreamPolicy(allowPrivate: true))
        for n in 1...5 {
            let response = try await transport.send(Self.request(server.port))
            #expect(response.status == 200)
            #expect(try await Self.text(response) == #"{"n":\#(n)}"#)
        }
        #expect(server.connections == 1)
        try await transport.shutdown()
        try await server.close()
    }

    @Test func aReusedConnectionClosedUnderTheRequestIsRetriedOnceOnANewOne() async throws {
        // The first connection answers once, then closes under the second request.
        let server = try await ScriptedUpstream { connection, request in
            connection == 1 && request == 2 ? .close : .answer()
        }
        let transport = HTTP1Transport(policy: UpstreamPolicy(allowPrivate: true))
        #expect(try await transport.send(Self.request(server.port)).status == 200)
        #expect(try await transport.send(Self.request(server.port)).status == 200)
        #expect(server.connections == 2)
        #expect(server.requests == 3)
        try await transport.shutdown()
        try await server.close()
    }

    @Test func aNewConnectionResetBeforeTheHeadIsNotRetried() async throws {
        let server = try await ScriptedUpstream { _, _ in .close }
        let transport = HTTP1Transport(policy: UpstreamPolicy(allowPrivate: true))
        await #expect(throws: TransportFailure.connectionReset) { _ = try await transport.send(Self.request(server.port)) }
        #expect(server.requests == 1, "an upstream that may have read the request is not sent it twice")
        try await transport.shutdown()
        try await server.close()
    }

    @Test func anAnswerThatClosesIsNotReused() async throws {
        let server = try await ScriptedUpstream { _, _ in .answer(headers: [("connection", "close")]) }
        let transport = HTTP1Transport(policy: UpstreamPolicy(allowPrivate: true))
        for _ in 1...3 { _ = try await Self.text(try await transport.send(Self.request(server.port))) }
        #expect(server.connections == 3)
        try await transport.shutdown()
        try await server.close()
    }

    @Test func aHeadLargerThanTheBoundIsABadResponse() async throws {
        let server = try await ScriptedUpstream { _, _ in .answer(headers: [("x-big", String(repeating: "a", count: 100_000))]) }
        let transport = HTTP1Transport(settings: .init(maxHeadBytes: 16 * 1024), policy: UpstreamPolicy(allowPrivate: true))
        await #expect(throws: TransportFailure.badResponse) { _ = try await transport.send(Self.request(server.port)) }
        try await transport.shutdown()
        try await server.close()
    }

    /// A length over the bound is refused from the head alone: not a byte of
    /// the body is read (the hostile suite checks the upstream could not send it all).
    @Test func aDeclaredLengthLargerThanTheBoundIsRefusedUnread() async throws {
        let unread = UpstreamReader.complete([], failure: .connectionReset)  // reading it at all would fail differently
        let response = UpstreamResponse(status: 200, headers: [("content-length", "73400320")], body: unread)
        await #expect(throws: TransportFailure.badResponse) { _ = try await response.collect(upTo: 64 << 20) }
        let small = UpstreamResponse(status: 200, headers: [("content-length", "2")], body: .complete([ByteBuffer(string: "{}")]))
        let read = try await small.collect(upTo: 64 << 20)
        #expect(String(buffer: read) == "{}")
    }

    @Test func aBodyLargerThanTheBoundIsABadResponse() async throws {
        let server = try await ScriptedUpstream { _, _ in .answer(body: String(repeating: "x", count: 10_000)) }
        let transport = HTTP1Transport(policy: UpstreamPolicy(allowPrivate: true))
        let response = try await transport.send(Self.request(server.port))
        await #expect(throws: TransportFailure.badResponse) { _ = try await response.body.collect(upTo: 1_000) }
        try await transport.shutdown()
        try await server.close()
    }

    /// A caller that stops waiting (its client left) closes the connection, so
    /// the upstream stops working for nobody.
    @Test func aCancelledRequestClosesItsConnection() async throws {
        let server = try await ScriptedUpstream { _, _ in .hold }
        let transport = HTTP1Transport(policy: UpstreamPolicy(allowPrivate: true))
        let sending = Task { try await transport.send(Self.request(server.port)) }
        await server.wait(for: "request 1.1")
        sending.cancel()
        await server.wait(for: "closed 1")
        await #expect(throws: TransportFailure.connectionReset) { _ = try await sending.value }
        try await transport.shutdown()
        try await server.close()
    }

    @Test func aSilentUpstreamIsAFirstByteTimeout() async throws {
        let server = try await ScriptedUpstream { _, _ in .hold }
        let transport = HTTP1Transport(settings: .init(firstByteTimeout: .milliseconds(200)), policy: UpstreamPolicy(allowPrivate: true))
        await #expect(throws: TransportFailure.firstByteTimeout) { _ = try await transport.send(Self.request(server.port)) }
        try await transport.shutdown()
        try await server.close()
    }

    /// The connection's timer outlives an exchange (it is not set again for
    /// each one): on a reused connection it must still end a silent second one.
    @Test(.timeLimit(.minutes(1))) func aReusedConnectionThatFallsSilentIsAFirstByteTimeout() async throws {
        let server = try await ScriptedUpstream { _, request in request == 1 ? .answer() : .hold }
        let transport = HTTP1Transport(settings: .init(firstByteTimeout: .milliseconds(200)), policy: UpstreamPolicy(allowPrivate: true))
        #expect(try await Self.text(transport.send(Self.request(server.port))) == "{}")
        await #expect(throws: TransportFailure.firstByteTimeout) { _ = try await transport.send(Self.request(server.port)) }
        #expect(server.connections == 1 && server.requests == 2, "the silent request went on the reused connection, once")
        try await transport.shutdown()
        try await server.close()
    }

    @Test func nothingListeningIsAFailedConnection() async throws {
        // A port bound but not listening refuses connections, and stays ours while the test runs: a
        // closed server's port could be taken by another test's server meanwhile (seen in CI).
        let socket = try #require(BoundSocket())
        defer { socket.close() }
        let transport = HTTP1Transport(policy: UpstreamPolicy(allowPrivate: true))
        await #expect(throws: TransportFailure.connectFailed) { _ = try await transport.send(Self.request(socket.port)) }
        try await transport.shutdown()
    }

    /// A new connection's name is looked up on NIO's thread pool (not on
    /// libdispatch, whose worker monitor traps the process when descriptors run out).
    @Test func aNameIsLookedUpForANewConnection() async throws {
        let server = try await ScriptedUpstream { _, _ in .answer(body: "{}") }
        let transport = HTTP1Transport(policy: UpstreamPolicy(allowPrivate: true))
        let response = try await transport.send(Self.request(server.port, host: "localhost"))
        #expect(response.status == 200)
        #expect(try await Self.text(response) == "{}")
        try await transport.shutdown()
        try await server.close()
    }

    @Test func aNameThatDoesNotResolveIsAFailedConnection() async throws {
        let transport = HTTP1Transport(policy: UpstreamPolicy(allowPrivate: true))
        await #expect(throws: TransportFailure.connectFailed) {
            _ = try await transport.send(Self.request(9, host: "no-such-host.invalid"))
        }
        try await transport.shutdown()
    }

    /// Address literals are answered at once, each under its own family; names
    /// come back with the port filled in.
    @Test func theResolverAnswersLiteralsAndNames() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let v4 = ThreadPoolResolver(loop: loop)
        #expect(try await v4.initiateAQuery(host: "127.0.0.1", port: 8080).get() == [try SocketAddress(ipAddress: "127.0.0.1", port: 8080)])
        #expect(try await v4.initiateAAAAQuery(host: "127.0.0.1", port: 8080).get().isEmpty)
        let v6 = ThreadPoolResolver(loop: loop)
        #expect(try await v6.initiateAAAAQuery(host: "::1", port: 443).get() == [try SocketAddress(ipAddress: "::1", port: 443)])
        #expect(try await v6.initiateAQuery(host: "::1", port: 443).get().isEmpty)
        let named = ThreadPoolResolver.resolve("localhost", port: 8443)
        #expect(!named.isEmpty)
        for address in named {
            #expect(address.port == 8443)
            #expect(["127.0.0.1", "::1"].contains(address.ipAddress ?? ""), "\(address)")
        }
        #expect(ThreadPoolResolver.resolve("no-such-host.invalid", port: 1).isEmpty)
    }

    /// https: the certificate is verified against the trust roots and the host
    /// name; an upstream whose certificate is not trusted is never sent the secret.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")))
    func httpsUpstreamsAreVerified() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
            "-keyout", directory + "/key.pem", "-out", directory + "/cert.pem",
        ]
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        #expect(openssl.terminationStatus == 0)
        let certificate = try NIOSSLCertificate.fromPEMFile(directory + "/cert.pem")
        let key = try NIOSSLPrivateKey(file: directory + "/key.pem", format: .pem)
        let serverTLS = try NIOSSLContext(
            configuration: .makeServerConfiguration(certificateChain: certificate.map { .certificate($0) }, privateKey: .privateKey(key)))
        let server = try await ScriptedUpstream(tls: serverTLS) { _, _ in .answer(body: #"{"secure":true}"#) }

        let trusting = HTTP1Transport(policy: UpstreamPolicy(allowPrivate: true), trustRoots: .file(directory + "/cert.pem"))
        let response = try await trusting.send(Self.request(server.port, scheme: "https", host: "localhost"))
        #expect(try await Self.text(response) == #"{"secure":true}"#)
        // The certificate names localhost, not the address.
        await #expect(throws: TransportFailure.connectFailed) {
            _ = try await trusting.send(Self.request(server.port, scheme: "https", host: "127.0.0.1"))
        }
        let strict = HTTP1Transport(policy: UpstreamPolicy(allowPrivate: true))
        await #expect(throws: TransportFailure.connectFailed) {
            _ = try await strict.send(Self.request(server.port, scheme: "https", host: "localhost"))
        }
        #expect(server.requests == 1, "only the verified connection carried a request")
        try await trusting.shutdown()
        try await strict.shutdown()
        try await server.close()
    }
}

extension HTTP1TransportTests {
    /// A header value the encoder will not send (a secret with a line break)
    /// fails at once, and nothing reaches the upstream.
    @Test(.timeLimit(.minutes(1))) func aHeaderThatCannotBeSentFailsAtOnce() async throws {
        let server = try await ScriptedUpstream { _, _ in .answer() }
        let transport = HTTP1Transport(settings: .init(firstByteTimeout: .seconds(600)), policy: UpstreamPolicy(allowPrivate: true))
        var request = Self.request(server.port)
        request.secret = "sk-test\r\nx-injected: 1"
        await #expect(throws: TransportFailure.self) { _ = try await transport.send(request) }
        #expect(server.requests == 0)
        try await transport.shutdown()
        try await server.close()
    }

    /// Socket errors that mean this process has no descriptors left are told
    /// apart from an upstream that cannot be reached.
    @Test func descriptorErrorsAreToldApartFromUnreachableUpstreams() {
        #expect(TransportFailure.classify(IOError(errnoCode: EMFILE, reason: "socket")) == .outOfDescriptors)
        #expect(TransportFailure.classify(IOError(errnoCode: ENFILE, reason: "socket")) == .outOfDescriptors)
        #expect(TransportFailure.classify(IOError(errnoCode: ECONNREFUSED, reason: "connect")) == .connectFailed)
    }
}

/// A TCP socket bound to a free loopback port and never listening.
private struct BoundSocket {
    let descriptor: Int32
    let port: Int

    init?() {
        let descriptor = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(descriptor, raw, length) == 0 && getsockname(descriptor, raw, &length) == 0
            }
        }
        guard bound else {
            Glibc.close(descriptor)
            return nil
        }
        self.descriptor = descriptor
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() { Glibc.close(descriptor) }
}
