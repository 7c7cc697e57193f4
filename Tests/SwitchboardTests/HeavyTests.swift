import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SwitchboardTesting
import Testing

/// Tests that load the machine on purpose. The test script runs them in a pass
/// of their own (`swift test --filter HeavyTests`), so their load does not
/// disturb the timing of other tests.
@Suite(.serialized) struct HeavyTests {
    @Test func aSlowClientSlowsTheUpstream() async throws {
        try await withHarness { harness in
            var request = HTTPClientRequest(url: harness.base + "/v1/messages")
            request.method = .POST
            request.headers.add(name: "x-api-key", value: Harness.key)
            request.body = .bytes(ByteBuffer(string: Harness.messages("big-stream", stream: true)))
            let response = try await harness.client.execute(request, timeout: .seconds(30))
            var iterator = response.body.makeAsyncIterator()
            _ = try await iterator.next()
            // Stop reading. Socket buffers fill (the kernel may hold tens of megabytes);
            // then the upstream must be held back, not read into the gateway's memory.
            var previous = -1
            var written = harness.fake.streamedEvents
            for _ in 0..<60 where written != previous {
                previous = written
                try await Task.sleep(for: .milliseconds(500))
                written = harness.fake.streamedEvents
            }
            #expect(written == previous, "the upstream stalls while the client does not read")
            #expect(written < 200_000, "only part of the 500 MB stream was written: \(written) events")
            // Walking away ends the upstream stream too.
            _ = consume iterator
            _ = consume response
            for _ in 0..<100 where harness.fake.currentInFlight > 0 { try await Task.sleep(for: .milliseconds(50)) }
            #expect(harness.fake.currentInFlight == 0)
        }
    }
}
