import Foundation
import Storage
import SwitchboardApp
import SwitchboardCore
import Testing

@testable import HTTPServer

/// A plain TCP client for what no HTTP library sends: partial heads, silence,
/// bodies declared but never sent.
final class RawSocket: @unchecked Sendable {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        // Reads give up after a generous bound instead of hanging a test.
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ text: String) { _ = text.utf8CString.withUnsafeBufferPointer { Glibc.send(fd, $0.baseAddress, $0.count - 1, Int32(MSG_NOSIGNAL)) } }

    /// Everything the server sends until it closes the connection; nil when it
    /// kept the connection open past the bound. The blocking reads run on a
    /// thread of their own, never on the async pool the server needs.
    func readUntilClosed() async -> String? {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: self.blockingReadUntilClosed()) }
        }
    }

    private func blockingReadUntilClosed() -> String? {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count == 0 { return String(decoding: received, as: UTF8.self) }
            if count < 0 { return errno == ECONNRESET ? String(decoding: received, as: UTF8.self) : nil }
            received += buffer[0..<count]
        }
    }
}

/// What one client connection may take: time for its head and body, the size
/// of its head, and room among all connections.
@Suite struct ConnectionLimitTests {
    @Test func theClockArmsOneDeadlinePerPhase() {
        var limits = ConnectionLimits()
        limits.bodyMinimumRate = 1000
        var clock = ConnectionClock(limits: limits)
        #expect(clock.connected() == .arm(.seconds(10)) && clock.isEvictable)
        #expect(clock.bytesArrived() == .keep)
        #expect(clock.headParsed(declaredLength: 100_000, now: .seconds(1)) == .arm(.seconds(30)))
        // Past the body timeout, a body still arriving at the minimum rate goes on…
        #expect(clock.bytesArrived(40_000) == .keep)
        #expect(clock.timerFired(now: .seconds(31)) == .arm(.seconds(10)), "40,000 bytes at 1,000/s cover 40 s")
        #expect(clock.isEvictable, "a body still on its way may make room for others")
        #expect(clock.requestRead() == .cancel, "no deadline while the answer streams")
        #expect(!clock.isEvictable)
        #expect(clock.bytesArrived() == .keep)
        #expect(clock.responseWritten() == .arm(.seconds(10)), "the next request began during the answer: its head is timed")
        #expect(clock.headParsed(declaredLength: nil) == .arm(.seconds(30)))
        #expect(clock.requestRead() == .cancel)
        #expect(clock.responseWritten() == .arm(.seconds(60)), "then keep-alive")
        #expect(clock.isEvictable && clock.phase == .idle)
        #expect(clock.bytesArrived() == .arm(.seconds(10)))
        // …and a trickle is cut off.
        _ = clock.headParsed(declaredLength: 1_000_000, now: .seconds(100))
        _ = clock.bytesArrived(500)
        #expect(clock.timerFired(now: .seconds(130)) == .close)
        var silent = ConnectionClock(limits: limits)
        _ = silent.connected()
        #expect(silent.timerFired(now: .seconds(10)) == .close)
    }

    @Test func anAnswerNobodyReadsIsTimedOnlyWhileTheSocketIsFull() {
        var clock = ConnectionClock(limits: ConnectionLimits())
        _ = clock.connected()
        #expect(clock.writabilityChanged(writable: false) == .keep, "no answer yet: the head's deadline stands")
        _ = clock.headParsed(declaredLength: nil)
        #expect(clock.requestRead() == .arm(.seconds(60)), "the socket is still full when the answer starts")
        #expect(clock.writabilityChanged(writable: true) == .cancel, "a client that reads again has no deadline")
        #expect(clock.writabilityChanged(writable: false, unsentBytes: 100_000) == .arm(.seconds(60)))
        #expect(clock.timerFired(now: .seconds(200), unsentBytes: 90_000) == .arm(.seconds(60)), "it took some: a slow reader, timed afresh")
        #expect(clock.timerFired(now: .seconds(260), unsentBytes: 90_000) == .abort, "not one byte for the whole client_send_timeout: reset")
    }

    @Test func aHeadThatNeverEndsIsClosedAtItsDeadline() async throws {
        try await withHarness(configure: { $0.limits.headerTimeout = .milliseconds(500) }) { harness in
            let slow = try RawSocket(port: harness.port)
            slow.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            #expect(await slow.readUntilClosed() != nil, "the server closed the socket")
            #expect(await harness.serves())
        }
    }

    @Test func anIdleKeptAliveConnectionIsClosed() async throws {
        try await withHarness(configure: { $0.limits.keepaliveTimeout = .milliseconds(500) }) { harness in
            let idle = try RawSocket(port: harness.port)
            idle.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            let answer = try #require(await idle.readUntilClosed())
            #expect(answer.hasPrefix("HTTP/1.1 200"))
        }
    }

    @Test func aBodyThatNeverArrivesIsClosedAtItsDeadline() async throws {
        try await withHarness(configure: { $0.limits.bodyTimeout = .milliseconds(500) }) { harness in
            let partial = try RawSocket(port: harness.port)
            partial.send(
                "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(Harness.key)\r\nContent-Length: 1000\r\n\r\n{\"model\":")
            #expect(await partial.readUntilClosed() != nil)
            #expect(try await harness.ledger(atLeast: 0).isEmpty, "a body never read writes no row")
        }
    }

    @Test func aStreamTheClientStopsReadingIsClosedAndSettled() async throws {
        try await withHarness(configure: { $0.limits.sendTimeout = .milliseconds(500) }) { harness in
            let stalled = try RawSocket(port: harness.port)
            let body = Harness.chat("big-stream", stream: true)
            stalled.send(
                "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(Harness.key)\r\n"
                    + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body)
            // Never read: the socket fills, the server gives up on it, and the request settles as a departure.
            let row = try #require(try await harness.ledger(atLeast: 1).first)
            #expect(row.outcome == .clientDisconnected && row.stream)
            #expect(await stalled.readUntilClosed() != nil, "the server closed the socket")
        }
    }

    @Test func aRefusalBeforeTheBodyClosesTheConnection() async throws {
        try await withHarness(configure: { $0.maxBodyBytes = 1024 }) { harness in
            let big = try RawSocket(port: harness.port)
            big.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(Harness.key)\r\nContent-Length: 104857600\r\n\r\n")
            let answer = try #require(await big.readUntilClosed(), "the 413 closes the socket instead of reading 100 MB")
            #expect(answer.hasPrefix("HTTP/1.1 413") && answer.lowercased().contains("connection: close"))
            let stranger = try RawSocket(port: harness.port)
            stranger.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n")
            let refused = try #require(await stranger.readUntilClosed())
            #expect(refused.hasPrefix("HTTP/1.1 401"))
        }
    }

    @Test func tooManyHeaderFieldsAreRefused() async throws {
        try await withHarness(configure: { $0.limits.maxHeaderFields = 20 }) { harness in
            let many = try RawSocket(port: harness.port)
            many.send("GET /health HTTP/1.1\r\nHost: x\r\n" + (0..<40).map { "X-F\($0): v\r\n" }.joined() + "\r\n")
            // Refused and closed (the unread rest of the head may reset the socket before the 400 is read).
            let answer = try #require(await many.readUntilClosed())
            #expect(answer.isEmpty || answer.hasPrefix("HTTP/1.1 400"))
            let huge = try RawSocket(port: harness.port)
            huge.send("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "a", count: 80 * 1024) + "\r\n\r\n")
            let big = try #require(await huge.readUntilClosed())
            #expect(big.isEmpty || big.hasPrefix("HTTP/1.1 400"))
        }
    }

    @Test func aFullServerMakesRoomByClosingItsStalestIdleConnection() async throws {
        try await withHarness(configure: { $0.limits.maxConnections = 4 }) { harness in
            // Four silent sockets fill the server…
            let silent = try (0..<4).map { _ in try RawSocket(port: harness.port) }
            try await harness.eventually { harness.switchboard.protection.connections >= 4 }
            // …and real requests still get through, each taking a silent one's place.
            for _ in 0..<3 {
                let fresh = try RawSocket(port: harness.port)
                fresh.send("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                #expect(try #require(await fresh.readUntilClosed()).hasPrefix("HTTP/1.1 200"))
            }
            // Silent sockets hold their place for the head timeout (10 s): without room made by
            // closing them, the requests above would have been turned away.
            #expect(silent.count == 4 && harness.switchboard.protection.counters.evicted >= 1)
        }
    }
}
