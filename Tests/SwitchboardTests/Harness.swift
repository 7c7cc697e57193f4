import AsyncHTTPClient
import Engine
import Foundation
import HTTPServer
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import Policy
import ServiceLifecycle
import Storage
import SwitchboardApp
import SwitchboardCore
import SwitchboardTesting
import Testing
import Upstream

/// A running gateway in front of a fake upstream, both on loopback ports.
struct Harness: Sendable {
    let port: Int
    let fakePort: Int
    let fake: FakeUpstream
    let switchboard: Switchboard
    let client: HTTPClient
    /// The gateway's clock: cooldowns end when a test moves it.
    let clock: MockClock

    /// The client key every harness declares.
    static let key = "sk-sb-test-0123456789abcdefghijklmnop"
    /// The upstream secrets the fake accepts.
    static let openAISecret = "sk-upstream-openai"
    static let anthropicSecret = "sk-upstream-anthropic"
    static let geminiSecret = "gemini-upstream-key"

    /// The models both default accounts list; the fake's behaviour follows the name.
    static let behaviourModels = [
        "echo", "fail-400", "fail-401", "fail-429", "fail-500", "fail-529", "slow-first-byte", "drop-after-first-chunk",
        "truncated-stream", "slow-stream", "short-slow-stream", "big-stream", "cut-mid-event", "stall-mid-stream",
        "error-first-stream", "fail-402", "fail-404", "no-end-marker", "held-stream", "honour-cap", "absurd-usage", "banned-account",
    ]

    /// Accounts against the fake on `port`: one OpenAI, one Anthropic.
    static func defaultAccounts(fakePort port: Int) -> [Configuration.AccountDeclaration] {
        [
            .init(
                name: "openai-1", provider: .openai, baseURL: "http://127.0.0.1:\(port)/v1", apiKey: openAISecret,
                models: ["gpt-4o-mini"] + behaviourModels),
            .init(
                name: "anthropic-1", provider: .anthropic, baseURL: "http://127.0.0.1:\(port)", apiKey: anthropicSecret,
                models: ["claude-sonnet-4-5"] + behaviourModels),
        ]
    }

    /// A Gemini account against the fake on `port` (its base URL is the API root, as the SDK uses it).
    static func geminiAccount(fakePort port: Int) -> Configuration.AccountDeclaration {
        .init(
            name: "gemini-1", provider: .gemini, baseURL: "http://127.0.0.1:\(port)", apiKey: geminiSecret,
            models: ["gemini-2.5-flash"] + behaviourModels)
    }

    var base: String { "http://127.0.0.1:\(port)" }

    /// A response read whole.
    struct Reply: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: String

        /// The body parsed as a JSON object.
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
    }

    /// Sends a request and reads the whole answer.
    func send(
        _ path: String, method: HTTPMethod = .POST, body: String? = nil, key: String? = Harness.key,
        auth: AuthStyle = .bearer, headers: [(String, String)] = []
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if let key { request.headers.add(name: auth.header, value: auth == .bearer ? "Bearer \(key)" : key) }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await client.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: String(buffer: bytes))
    }

    /// Sends raw body bytes (which need not be valid text) and reads the whole answer.
    func sendBytes(_ path: String, body: [UInt8]) async throws -> Reply {
        var request = HTTPClientRequest(url: base + path)
        request.method = .POST
        request.headers.add(name: "authorization", value: "Bearer \(Harness.key)")
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await client.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: String(buffer: bytes))
    }

    /// How a key is presented.
    enum AuthStyle: Sendable {
        case bearer, xAPIKey, googAPIKey
        var header: String {
            switch self {
            case .bearer: return "authorization"
            case .xAPIKey: return "x-api-key"
            case .googAPIKey: return "x-goog-api-key"
            }
        }
    }

    /// A chat completions body.
    static func chat(_ model: String, stream: Bool = false, extra: String = "") -> String {
        #"{"model":"\#(model)","stream":\#(stream),"messages":[{"role":"user","content":"hi"}]\#(extra)}"#
    }

    /// A messages body.
    static func messages(_ model: String, stream: Bool = false) -> String {
        #"{"model":"\#(model)","max_tokens":64,"stream":\#(stream),"messages":[{"role":"user","content":"hi"}]}"#
    }

    /// Calls the admin API.
    func admin(_ path: String, method: HTTPMethod = .GET, body: String? = nil, token: String) async throws -> Reply {
        try await send("/admin" + path, method: method, body: body, key: token)
    }

    /// Starts a streaming request and reads its first chunk; the stream stays
    /// open while the caller keeps what this returns.
    func startStream(_ body: String) async throws -> HTTPClientResponse.Body.AsyncIterator {
        var request = HTTPClientRequest(url: base + "/v1/chat/completions")
        request.method = .POST
        request.headers.add(name: "authorization", value: "Bearer \(Harness.key)")
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await client.execute(request, timeout: .seconds(30))
        var iterator = response.body.makeAsyncIterator()
        _ = try await iterator.next()
        return iterator
    }

    /// Starts a streaming request, reads its first chunk, and walks away (the
    /// connection closes mid-stream when the response is dropped).
    func startStreamAndLeave(_ body: String) async throws {
        _ = try await startStream(body)
    }

    /// Waits (a generous bound, polling) until `condition` holds.
    func eventually(_ condition: () throws -> Bool) async throws {
        for _ in 0..<400 where try !condition() { try await Task.sleep(for: .milliseconds(25)) }
    }

    /// Whether `/health` answers 200 within a generous bound. With deadlines
    /// of half a second a loaded machine can miss one on a request of its own
    /// (the server then rightly closes it), so a failed try is tried again.
    func serves() async -> Bool {
        for _ in 0..<20 {
            if (try? await send("/health", method: .GET, key: nil))?.status == 200 { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// Waits until `count` tasks sleep on the gateway's clock, then moves it by `step`.
    func tick(_ step: Duration, whenSleepers count: Int = 1) async throws {
        try await eventually { clock.sleeperCount >= count }
        clock.advance(by: step)
    }

    /// Waits until the ledger holds at least `count` rows, then returns them, newest first.
    func ledger(atLeast count: Int) async throws -> [LedgerRow] {
        for _ in 0..<400 {
            await switchboard.ledger.flush()
            let rows = try await switchboard.storeContext.store.recentLedger(limit: 10_000)
            if rows.count >= count { return rows }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await switchboard.storeContext.store.recentLedger(limit: 10_000)
    }

    /// The ledger row of one request.
    func row(_ requestID: String?) async throws -> LedgerRow {
        let id = try #require(requestID)
        for _ in 0..<100 {
            await switchboard.ledger.flush()
            if let row = try await switchboard.storeContext.store.recentLedger(limit: 10_000).first(where: { $0.requestID == id }) {
                return row
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("no ledger row for \(id)")
        throw CancellationError()
    }
}

/// Starts a fake upstream and a gateway in front of it, runs `body`, stops the
/// gateway (while the fake still answers), then the fake.
///
/// The gateway stops as it does on SIGTERM, by graceful shutdown; with
/// `cancelling`, by cancellation (a service group that gave up waiting). Either
/// way every row must be written. Cancellation is not the default: NIO's server
/// channel can trap on a connection accepted but not yet handed over when its
/// task is cancelled, which graceful shutdown avoids.
func withHarness(
    accounts: ((Int) -> [Configuration.AccountDeclaration])? = nil,
    configure: (inout Configuration) -> Void = { _ in },
    transport: (any UpstreamTransport)? = nil,
    cancelling: Bool = false,
    _ body: (Harness) async throws -> Void
) async throws {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let fake = FakeUpstream(acceptedKeys: [Harness.openAISecret, Harness.anthropicSecret, Harness.geminiSecret])
    let (fakePorts, fakeContinuation) = AsyncStream.makeStream(of: Int.self)
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    var clientConfiguration = HTTPClient.Configuration(timeout: .init(connect: .seconds(5)))
    // Above the most requests a test sends at once (100): a request waiting for a pooled
    // connection fails after the connect timeout, and under a loaded CI run 64 connections
    // stayed busy past it (LedgerTests, getConnectionFromPoolTimeout).
    clientConfiguration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 128
    let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: clientConfiguration)
    try await withThrowingTaskGroup(of: Void.self) { upstream in
        upstream.addTask { try await fake.application(onListening: { fakeContinuation.yield($0) }).run() }
        var fakeIterator = fakePorts.makeAsyncIterator()
        let fakePort = try #require(await fakeIterator.next())

        var config = Configuration()
        config.listen = "127.0.0.1:0"
        config.database = "sqlite:\(directory)/switchboard.db"
        config.accounts = (accounts ?? Harness.defaultAccounts)(fakePort)
        config.keys = [.init(name: "test-key", key: Harness.key, expiresAt: nil)]
        config.logLevel = "critical"
        config.upstreamPolicy.allowPrivate = true  // the fake provider listens on loopback
        // A test that leaves a stream open (a reader that stopped) ends it within this, then by cancellation.
        config.shutdownTimeout = .seconds(5)
        configure(&config)
        let clock = MockClock(start: Date())
        let switchboard = try await Switchboard.build(config, logger: quietLogger(), clock: clock, transport: transport) { continuation.yield($0) }
        let group = switchboard.serviceGroup(signals: [], logger: quietLogger())
        let outcome: Result<Void, any Error> = await withTaskGroup(of: Void.self) { gateway in
            gateway.addTask { try? await group.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { return .failure(CancellationError()) }
            let harness = Harness(port: port, fakePort: fakePort, fake: fake, switchboard: switchboard, client: client, clock: clock)
            let result: Result<Void, any Error>
            do {
                try await body(harness)
                result = .success(())
            } catch {
                result = .failure(error)
            }
            // The gateway stops and drains its ledger while the fake still runs.
            if cancelling { gateway.cancelAll() } else { await group.triggerGracefulShutdown() }
            await gateway.waitForAll()
            // However it stopped, the gateway must have written every row.
            #expect(switchboard.ledger.pendingCount == 0 && switchboard.ledger.openCount == 0, "ledger rows lost at shutdown")
            // Every lease went back through the relay machine's settlement, none by the safety net.
            #expect(switchboard.gateway.pool.droppedLeases == 0, "an account lease was dropped unreleased")
            #expect(switchboard.gateway.limiter.droppedLeases == 0, "a key lease was dropped unsettled")
            return result
        }
        upstream.cancelAll()
        try? await upstream.waitForAll()
        try await client.shutdown()
        try await switchboard.storeContext.store.close()
        try outcome.get()
    }
}

extension Configuration.AccountDeclaration {
    /// A copy with other settings.
    func with(
        name: String? = nil, baseURL: String? = nil, models: [String]? = nil, modelMap: [String: String]? = nil,
        priority: Int? = nil, limits: AccountLimits? = nil
    ) -> Self {
        var copy = self
        if let limits { copy.limits = limits }
        if let name { copy.name = name }
        if let baseURL { copy.baseURL = baseURL }
        if let models { copy.models = models }
        if let modelMap { copy.modelMap = modelMap }
        if let priority { copy.priority = priority }
        return copy
    }
}
