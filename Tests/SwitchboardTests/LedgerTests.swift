import AsyncHTTPClient
import Foundation
import NIOCore
import SwitchboardApp
import SwitchboardCore
import Testing

/// Every request leaves exactly one ledger row, whatever happens to it.
@Suite struct LedgerTests {
    @Test func manyConcurrentRequestsLeaveExactlyOneRowEach() async throws {
        try await withHarness { harness in
            let bodies: [(String, String)] = [
                ("/v1/chat/completions", Harness.chat("gpt-4o-mini")),
                ("/v1/chat/completions", Harness.chat("gpt-4o-mini", stream: true)),
                ("/v1/messages", Harness.messages("claude-sonnet-4-5", stream: true)),
                ("/v1/messages", Harness.messages("fail-400")),
                ("/v1/chat/completions", "{not json"),
            ]
            let ids = try await withThrowingTaskGroup(of: String?.self) { group in
                for index in 0..<100 {
                    let (path, body) = bodies[index % bodies.count]
                    group.addTask { try await harness.send(path, body: body).headers.first(name: "x-request-id") }
                }
                var ids: [String] = []
                for try await id in group { if let id { ids.append(id) } }
                return ids
            }
            #expect(ids.count == 100 && Set(ids).count == 100)
            let rows = try await harness.ledger(atLeast: 100)
            try await Task.sleep(for: .milliseconds(200))
            let settled = try await harness.ledger(atLeast: 100)
            #expect(settled.count == 100, "no row is missing or doubled")
            #expect(Set(rows.map(\.requestID)) == Set(ids))
        }
    }

    @Test func aClientThatLeavesMidStreamIsStillRecorded() async throws {
        try await withHarness { harness in
            var request = HTTPClientRequest(url: harness.base + "/v1/chat/completions")
            request.method = .POST
            request.headers.add(name: "authorization", value: "Bearer \(Harness.key)")
            request.body = .bytes(ByteBuffer(string: Harness.chat("slow-stream", stream: true)))
            let reader = Task {
                let response = try await harness.client.execute(request, timeout: .seconds(30))
                let id = response.headers.first(name: "x-request-id")
                var received = 0
                for try await chunk in response.body {
                    received += chunk.readableBytes
                    if received > 1000 { break }  // leave early: the connection is dropped
                }
                return id
            }
            let id = try await reader.value
            let row = try await harness.row(id)
            #expect(row.outcome == "client_disconnected")
            #expect(row.stream && row.usageIncomplete)
            // The gateway stopped reading upstream: the fake's stream ends long before its 200 events.
            try await Task.sleep(for: .milliseconds(500))
            #expect(harness.fake.currentInFlight == 0)
            #expect(harness.fake.streamedEvents < 150)
        }
    }

    @Test func keysCreatedAndRevokedWhileRunningTakeEffectWithinASecond() async throws {
        try await withHarness { harness in
            let admin = Admin(context: harness.switchboard.storeContext)
            let (_, plaintext) = try await admin.keys.create(name: "fresh", settings: [:], source: "test")
            let start = ContinuousClock.now
            var status = 0
            while ContinuousClock.now - start < .milliseconds(1500) {
                status = try await harness.send("/v1/models", method: .GET, key: plaintext).status
                if status == 200 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(status == 200)
            #expect(ContinuousClock.now - start < .seconds(1))

            #expect(try await admin.revokeKey(name: "fresh"))
            let revokedAt = ContinuousClock.now
            while ContinuousClock.now - revokedAt < .milliseconds(1500) {
                status = try await harness.send("/v1/models", method: .GET, key: plaintext).status
                if status == 401 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(status == 401)
            #expect(ContinuousClock.now - revokedAt < .seconds(1))
        }
    }
}
