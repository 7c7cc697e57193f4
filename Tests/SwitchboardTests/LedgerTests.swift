import Admin
import AsyncHTTPClient
import Engine
import Foundation
import NIOCore
import NIOHTTP1
import Storage
import SwitchboardApp
import SwitchboardCore
import SwitchboardTesting
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
            // Every well-formed request has its row; the malformed ones (one in five) are counted instead.
            let rows = try await harness.ledger(atLeast: 80)
            try await Task.sleep(for: .milliseconds(200))
            let settled = try await harness.ledger(atLeast: 80)
            #expect(settled.count == 80, "no row is missing or doubled")
            #expect(Set(rows.map(\.requestID)).isSubset(of: Set(ids)) && Set(rows.map(\.requestID)).count == 80)
            #expect(harness.switchboard.gateway.stats.malformedRequests == 20)
        }
    }

    /// Starts a slow stream, reads about 1 KB of it and hangs up; returns the request id.
    static func leaveEarly(_ harness: Harness) async throws -> String? {
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
        return try await reader.value
    }

    @Test func aClientThatLeavesMidStreamIsBilledWhatTheUpstreamReports() async throws {
        try await withHarness { harness in
            let row = try await harness.row(try await Self.leaveEarly(harness))
            #expect(row.outcome == .clientDisconnected && row.stream)
            // The gateway read the upstream on (sending nothing) until its usage came.
            #expect(row.usageSource == .reported && !row.usageIncomplete)
            #expect(row.usage == TokenUsage(inputUncached: FakeUsage.prompt, output: FakeUsage.output))
            #expect(row.deliveredBytes > 1000 && row.deliveredBytes < 20_000)
            #expect(harness.fake.streamedEvents >= 200)
        }
    }

    @Test func aClientThatLeavesMidStreamIsBilledAnEstimateWhenSoConfigured() async throws {
        try await withHarness(configure: { $0.onClientDisconnect = .estimate }) { harness in
            let row = try await harness.row(try await Self.leaveEarly(harness))
            #expect(row.outcome == .clientDisconnected && row.stream)
            #expect(row.usageSource == .estimated && row.usageIncomplete)
            // Input from the request, output from the text delivered: never nothing.
            #expect(row.usage.inputUncached > 0 && row.usage.output > 0)
            // The gateway stopped reading upstream: the fake's stream ends long before its 200 events.
            for _ in 0..<100 where harness.fake.currentInFlight > 0 { try await Task.sleep(for: .milliseconds(50)) }
            #expect(harness.fake.currentInFlight == 0)
            #expect(harness.fake.streamedEvents < 150)
        }
    }

    @Test func keysCreatedAndRevokedWhileRunningTakeEffectWithoutARestart() async throws {
        try await withHarness { harness in
            let admin = Admin(context: harness.switchboard.storeContext)
            let (_, plaintext) = try await admin.keys.create(name: "fresh", settings: [:], source: "test")
            // The refresher polls every 250 ms: wait for the change with a generous bound.
            var status = 0
            for _ in 0..<200 {
                status = try await harness.send("/v1/models", method: .GET, key: plaintext).status
                if status == 200 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(status == 200)

            #expect(try await admin.revokeKey(name: "fresh"))
            for _ in 0..<200 {
                status = try await harness.send("/v1/models", method: .GET, key: plaintext).status
                if status == 401 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(status == 401)
        }
    }
}
