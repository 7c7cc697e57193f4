import AsyncHTTPClient
import Engine
import Foundation
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Storage
import SwitchboardApp
import SwitchboardCore
import SwitchboardTesting
import Testing
import Upstream

/// Graceful shutdown lets streams in flight finish and flushes the ledger.
@Suite struct ShutdownTests {
    @Test func inFlightStreamsFinishAndTheLedgerIsFlushed() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let fake = FakeUpstream(acceptedKeys: [Harness.anthropicSecret, Harness.openAISecret])
        let (fakePorts, fakeContinuation) = AsyncStream.makeStream(of: Int.self)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
        var config = Configuration()
        config.listen = "127.0.0.1:0"
        config.database = "sqlite:\(directory)/switchboard.db"
        config.keys = [.init(name: "test-key", key: Harness.key)]
        config.upstreamPolicy.allowPrivate = true  // the fake provider listens on loopback

        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await fake.application(onListening: { fakeContinuation.yield($0) }).run() }
            var fakeIterator = fakePorts.makeAsyncIterator()
            config.accounts = Harness.defaultAccounts(fakePort: try #require(await fakeIterator.next()))
            let switchboard = try await Switchboard.build(config, logger: quietLogger()) { continuation.yield($0) }
            let group = switchboard.serviceGroup(signals: [], logger: quietLogger())
            tasks.addTask { try await group.run() }
            var portIterator = ports.makeAsyncIterator()
            let port = try #require(await portIterator.next())

            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/messages")
            request.method = .POST
            request.headers.add(name: "x-api-key", value: Harness.key)
            request.body = .bytes(ByteBuffer(string: Harness.messages("short-slow-stream", stream: true)))
            let response = try await client.execute(request, timeout: .seconds(30))
            let requestID = try #require(response.headers.first(name: "x-request-id"))
            var iterator = response.body.makeAsyncIterator()
            var text = String(buffer: try #require(try await iterator.next()))

            await group.triggerGracefulShutdown()
            while let chunk = try await iterator.next() { text += String(buffer: chunk) }
            #expect(text.hasSuffix("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"), "the stream in flight finished")

            tasks.cancelAll()  // stops the fake, and the gateway's group if it had not ended
            try? await tasks.waitForAll()
            try await client.shutdown()
            try await switchboard.storeContext.store.close()

            // Reopen the file as another process would and find the row.
            let store = try await SQLStore.openSQLite(path: "\(directory)/switchboard.db", logger: quietLogger())
            let rows = try await store.recentLedger(limit: 10)
            try await store.close()
            let row = try #require(rows.first { $0.requestID == requestID })
            #expect(row.outcome == .ok && row.stream && !row.usageIncomplete)
        }
    }

    /// A gateway stopped by cancellation (a service group that gave up on
    /// graceful shutdown) still writes a row for every request, the one whose
    /// stream it cut included: `withHarness` fails when any is left pending or
    /// open in the journal.
    @Test func aCancelledGatewayStillWritesEveryRow() async throws {
        try await withHarness(cancelling: true) { harness in
            #expect(try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini")).status == 200)
            // A stream still answering when the gateway is cancelled.
            let stream = try await harness.startStream(Harness.chat("slow-stream", stream: true))
            #expect(harness.switchboard.ledger.openCount == 1, "the stream is open in the journal when the gateway is cancelled")
            withExtendedLifetime(stream) {}
        }
    }
}
