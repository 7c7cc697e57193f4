import Engine
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Policy
import Storage
import SwitchboardApp
import SwitchboardCore
import Testing
import Upstream

/// A transport that answers from a script, with no sockets: what the
/// gateway sends is recorded, and each attempt gets the answer or failure
/// the test wrote for it.
final class ScriptedTransport: UpstreamTransport {
    typealias Script = @Sendable (_ attempt: Int, _ request: UpstreamRequest) throws(TransportFailure) -> UpstreamResponse
    let settings = TransportSettings()
    private let script: Script
    private let sent = NIOLockedValueBox<[UpstreamRequest]>([])

    init(_ script: @escaping Script) { self.script = script }

    /// The requests the gateway sent, in order.
    var requests: [UpstreamRequest] { sent.withLockedValue { $0 } }

    func send(_ request: UpstreamRequest) async throws(TransportFailure) -> UpstreamResponse {
        let attempt = sent.withLockedValue {
            $0.append(request)
            return $0.count
        }
        return try script(attempt, request)
    }

    func shutdown() async throws {}

    /// A JSON answer, whole.
    static func json(_ text: String, status: Int = 200) -> UpstreamResponse {
        UpstreamResponse(status: status, headers: [("content-type", "application/json")], body: .complete([ByteBuffer(string: text)]))
    }
}

@Suite struct ScriptedTransportTests {
    static let answer =
        #"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":7,"completion_tokens":2,"total_tokens":9}}"#

    static func accounts(_ port: Int) -> [Configuration.AccountDeclaration] {
        [
            .init(name: "first", provider: .openai, baseURL: "http://first.invalid/v1", apiKey: "sk-first", models: ["gpt-4o-mini"], priority: 1),
            .init(name: "second", provider: .openai, baseURL: "http://second.invalid/v1", apiKey: "sk-second", models: ["gpt-4o-mini"], priority: 2),
        ]
    }

    /// The relay pipeline with the upstream hop scripted: a reset on the first
    /// account moves the request to the next, whose answer and usage the
    /// client and the ledger get; the body sent is the client's own bytes.
    @Test func aResetFailsOverAndTheAnswerIsBilledOnce() async throws {
        let transport = ScriptedTransport { attempt, _ throws(TransportFailure) in
            if attempt == 1 { throw .connectionReset }
            return ScriptedTransport.json(Self.answer)
        }
        try await withHarness(accounts: Self.accounts, transport: transport) { harness in
            let body = #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}"#
            let reply = try await harness.send("/v1/chat/completions", body: body)
            #expect(reply.status == 200)
            #expect(reply.json["usage"] as? [String: Any] != nil)
            let sent = transport.requests
            #expect(sent.map(\.baseURL) == ["http://first.invalid/v1", "http://second.invalid/v1"])
            #expect(sent.map(\.secret) == ["sk-first", "sk-second"])
            #expect(String(buffer: sent[1].body) == body)
            let row = try await harness.row(reply.headers.first(name: "x-request-id"))
            #expect(row.accountName == "second")
            #expect(row.usage.inputUncached == 7 && row.usage.output == 2)
        }
    }

    /// No socket could be opened (the process is out of descriptors): the
    /// gateway's trouble, not the account's. The client hears 503 at once, no
    /// other account is tried (it would need a socket too), and however often
    /// it happens no account is cooled down or counted as failing.
    @Test func outOfDescriptorsBlamesNoAccount() async throws {
        let transport = ScriptedTransport { _, _ throws(TransportFailure) in throw .outOfDescriptors }
        try await withHarness(accounts: Self.accounts, transport: transport) { harness in
            let body = #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}"#
            for round in 1...5 {
                let reply = try await harness.send("/v1/chat/completions", body: body)
                #expect(reply.status == 503)
                #expect((reply.json["error"] as? [String: Any])?["code"] as? String == "upstream_unavailable")
                #expect(transport.requests.count == round, "one attempt per request")
                let row = try await harness.row(reply.headers.first(name: "x-request-id"))
                #expect(row.outcome == .upstreamError && row.status == 503)
            }
            let accounts = harness.switchboard.gateway.snapshots.snapshot.accounts.accounts
            for status in harness.switchboard.gateway.pool.status(of: accounts) {
                #expect(status.cooldownUntil == nil && status.totalFailures == 0, "\(status.name) was blamed")
            }
            #expect(harness.switchboard.gateway.stats.upstreamOutOfDescriptors == 5, "counted for admins")
        }
    }

    /// A body cut by the transport after the head: the attempt failed, the
    /// next account answers.
    @Test func aBodyCutAfterTheHeadFailsOver() async throws {
        let transport = ScriptedTransport { attempt, _ throws(TransportFailure) in
            if attempt == 1 {
                return UpstreamResponse(
                    status: 200, headers: [("content-type", "application/json")],
                    body: .complete([ByteBuffer(string: #"{"id":"#)], failure: .connectionReset))
            }
            return ScriptedTransport.json(Self.answer)
        }
        try await withHarness(accounts: Self.accounts, transport: transport) { harness in
            let reply = try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini"))
            #expect(reply.status == 200)
            #expect(transport.requests.count == 2)
            #expect(try await harness.row(reply.headers.first(name: "x-request-id")).accountName == "second")
        }
    }
}
