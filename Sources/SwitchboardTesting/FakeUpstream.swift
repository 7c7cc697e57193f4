import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// A fake LLM provider on loopback that speaks the OpenAI Chat Completions and
/// Anthropic Messages wire formats, JSON and SSE, with behaviour chosen by the
/// model name (see `FakeBehaviour`). The providers themselves cannot be reached
/// from tests; everything else in a test is real.
public final class FakeUpstream: Sendable {
    /// One request the fake received.
    public struct Received: Sendable {
        public var path: String
        public var headers: [String: String]
        public var body: [String: any Sendable]
        public var rawBody: String
        /// The query string, without `?` (Azure's `api-version`).
        public var query = ""
    }

    private let log = Mutex<[Received]>([])
    private let inFlight = InFlightCounter()
    /// The upstream keys accepted; any other gets 401.
    public let acceptedKeys: Set<String>

    private let refused = Mutex<Set<String>>([])
    /// Webhook posts `/hooks/flaky` has answered so far (the first fails).
    private let flakyHooks = Mutex(0)

    /// Creates a fake that accepts the given upstream keys.
    public init(acceptedKeys: Set<String>) { self.acceptedKeys = acceptedKeys }

    private let heldStreams = Mutex<(released: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

    /// Lets every `held-stream` go on (and those that start later).
    public func releaseHeld() {
        let waiting = heldStreams.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.released = true
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    /// Holds a `held-stream` until `releaseHeld()`, or 30 s at most.
    func waitForRelease() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let go = self.heldStreams.withLock { state -> Bool in
                        if state.released { return true }
                        state.waiting.append(continuation)
                        return false
                    }
                    if go { continuation.resume() }
                }
            }
            group.addTask { try? await Task.sleep(for: .seconds(30)) }
            await group.next()
            self.releaseHeld()  // whichever came first, nothing stays parked
            group.cancelAll()
        }
    }

    /// A status Anthropic's `count_tokens` answers with for now (nil: counts).
    public var countStatus: Int? {
        get { countStatusOverride.withLock { $0 } }
        set { countStatusOverride.withLock { $0 = newValue } }
    }
    private let countStatusOverride = Mutex<Int?>(nil)

    /// Keys answered with 401 for now, as if the provider revoked them.
    public var refusedKeys: Set<String> {
        get { refused.withLock { $0 } }
        set { refused.withLock { $0 = newValue } }
    }

    /// The header OpenAI-format requests carry their key in, for upstreams
    /// that do not read `Authorization: Bearer` (any other value: the bare key).
    public var openAIKeyHeader: String {
        get { keyHeader.withLock { $0 } }
        set { keyHeader.withLock { $0 = newValue } }
    }
    private let keyHeader = Mutex("authorization")

    /// Whether answers model a prompt cache per upstream key: a request whose
    /// system prompt (or first message) that key sent before reports cache reads.
    public var modelsPrefixCache: Bool {
        get { prefixCacheOn.withLock { $0 } }
        set { prefixCacheOn.withLock { $0 = newValue } }
    }
    private let prefixCacheOn = Mutex(false)
    private let prefixes = Mutex<Set<String>>([])

    /// The start of a prompt, as a provider's cache keys it: the system prompt, else the first message's text.
    static func promptStart(_ json: [String: Any]) -> String? {
        if let system = json["system"] as? String { return system }
        guard let first = (json["messages"] as? [[String: Any]])?.first else { return nil }
        return first["content"] as? String
    }

    /// Every request received so far.
    public var received: [Received] { log.withLock { $0 } }

    /// The most requests that were in flight at once.
    public var peakInFlight: Int { inFlight.state.withLock { $0.peak } }

    /// Requests in flight now.
    public var currentInFlight: Int { inFlight.state.withLock { $0.now } }

    /// The most requests in flight at once with one upstream key (one account).
    public func peakInFlight(key: String) -> Int { inFlight.perKey.withLock { $0[key]?.peak ?? 0 } }

    /// Requests in flight now with one upstream key.
    public func currentInFlight(key: String) -> Int { inFlight.perKey.withLock { $0[key]?.now ?? 0 } }

    /// Stream events written so far (a write completes once the reader took it).
    public var streamedEvents: Int { inFlight.written.withLock { $0 } }

    /// Forgets what was received.
    public func reset() {
        log.withLock { $0.removeAll() }
        inFlight.state.withLock { $0 = (0, 0) }
        inFlight.perKey.withLock { $0 = [:] }
        inFlight.written.withLock { $0 = 0 }
    }

    /// The HTTP application serving the fake on `host:port` (0 picks a free port).
    public func application(
        host: String = "127.0.0.1", port: Int = 0, onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        router.post("/v1/chat/completions") { request, context in
            try await self.serve(request, context: context, format: .openAI)
        }
        router.post("/v1/messages") { request, context in
            try await self.serve(request, context: context, format: .anthropic)
        }
        router.post("/v1/responses") { request, context in
            try await self.serve(request, context: context, format: .responses)
        }
        // Azure OpenAI: Chat Completions under a deployment, which needs `api-version` and an `api-key` header.
        router.post("/openai/deployments/{deployment}/chat/completions") { request, context -> Response in
            guard request.uri.queryParameters["api-version"].map({ !$0.isEmpty }) == true else {
                return Response(
                    status: .notFound, headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(string: #"{"error":{"code":"404","message":"Resource not found"}}"#)))
            }
            return try await self.serve(
                request, context: context, format: .openAI, pathModel: context.parameters.get("deployment"), credentialHeader: "api-key")
        }
        router.post("/v1beta/models/{target}") { request, context -> Response in
            let target = context.parameters.get("target") ?? ""
            let parts = target.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { return Response(status: .notFound) }
            switch parts[1] {
            case "generateContent": return try await self.serve(request, context: context, format: .gemini, pathModel: parts[0], pathStream: false)
            case "streamGenerateContent":
                return try await self.serve(request, context: context, format: .gemini, pathModel: parts[0], pathStream: true)
            case "batchEmbedContents":
                return try await self.geminiEmbeddings(request)
            case "countTokens":
                let (_, headers) = try await self.record(request)
                guard self.accepts(headers["x-goog-api-key"]) else {
                    return Response(
                        status: .unauthorized, headers: [.contentType: "application/json"],
                        body: .init(
                            byteBuffer: ByteBuffer(string: #"{"error":{"code":401,"message":"API key not valid.","status":"UNAUTHENTICATED"}}"#)))
                }
                return Response(
                    status: .ok, headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(string: #"{"totalTokens":\#(FakeUsage.prompt)}"#)))
            default: return Response(status: .notFound)
            }
        }
        router.get("/v1beta/models") { request, _ -> Response in
            guard let key = request.headers[HTTPField.Name("x-goog-api-key")!], self.acceptedKeys.contains(key), !self.refusedKeys.contains(key)
            else {
                return Response(
                    status: .unauthorized, headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(string: #"{"error":{"code":401,"message":"API key not valid.","status":"UNAUTHENTICATED"}}"#)))
            }
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: #"{"models":[{"name":"models/gemini-2.5-flash"}]}"#)))
        }
        router.post("/v1/messages/count_tokens") { request, _ -> Response in
            let (_, headers) = try await self.record(request)
            guard self.accepts(headers["x-api-key"]) else {
                return Response(
                    status: .unauthorized, headers: [.contentType: "application/json"],
                    body: .init(
                        byteBuffer: ByteBuffer(string: #"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#)))
            }
            if let status = self.countStatus {
                return Response(
                    status: .init(code: status), headers: [.contentType: "application/json", .retryAfter: "30"],
                    body: .init(byteBuffer: ByteBuffer(string: #"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#)))
            }
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: #"{"input_tokens":\#(FakeUsage.prompt)}"#)))
        }
        // The most requests in flight at once, and now, for tests that drive the fake from another process.
        router.get("/in-flight") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: #"{"peak":\#(self.peakInFlight),"now":\#(self.currentInFlight)}"#)))
        }
        // Lets `held-stream` answers go on, for tests that drive the fake from another process.
        router.post("/held/release") { _, _ -> Response in
            self.releaseHeld()
            return Response(status: .noContent)
        }
        // A webhook receiver for alert tests: `ok` takes every post, `down` none, `flaky` all but the first.
        router.post("/hooks/{mode}") { request, context -> Response in
            _ = try await self.record(request)
            let mode = context.parameters.get("mode") ?? ""
            let fails =
                mode == "down"
                || (mode == "flaky"
                    && self.flakyHooks.withLock { count -> Bool in
                        count += 1
                        return count == 1
                    })
            return Response(status: fails ? .serviceUnavailable : .ok)
        }
        router.post("/v1/embeddings") { request, _ -> Response in
            try await self.embeddings(request)
        }
        // The free endpoint health probes use; answers 401 to an unknown key.
        router.get("/v1/models") { request, _ -> Response in
            let key =
                request.headers[HTTPField.Name("x-api-key")!]
                ?? request.headers[.authorization].map { String($0.dropFirst("Bearer ".count)) }
            guard let key, self.acceptedKeys.contains(key), !self.refusedKeys.contains(key) else {
                return Response(
                    status: .unauthorized, headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(string: #"{"error":{"type":"authentication_error","message":"invalid x-api-key"}}"#)))
            }
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: #"{"object":"list","data":[{"id":"gpt-4o-mini","object":"model"}]}"#)))
        }
        var logger = Logger(label: "fake-upstream")
        logger.logLevel = .critical
        return Application(
            router: router, configuration: .init(address: .hostname(host, port: port)),
            onServerRunning: { await onListening($0.localAddress?.port ?? port) }, logger: logger)
    }

    enum Format { case openAI, anthropic, responses, gemini }

    /// The vector every embedding gets, so tests can check what the SDK decodes.
    public static let embedding: [Float] = [0.25, -0.5, 1.0]
    /// Prompt tokens the fake reports per input.
    public static let embeddingTokensPerInput = 8

    /// Reads and logs a request: its JSON body and headers (lowercase names).
    private func record(_ request: Request) async throws -> (json: [String: Any], headers: [String: String]) {
        var request = request
        let raw = String(buffer: try await request.collectBody(upTo: 16 << 20))
        let json = (try? JSONSerialization.jsonObject(with: Data(raw.utf8))) as? [String: Any] ?? [:]
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        log.withLock { $0.append(Received(path: request.uri.path, headers: headers, body: json.mapValues { "\($0)" }, rawBody: raw)) }
        return (json, headers)
    }

    /// Whether a key is accepted now.
    private func accepts(_ key: String?) -> Bool {
        guard let key else { return false }
        return acceptedKeys.contains(key) && !refusedKeys.contains(key)
    }

    /// OpenAI embeddings: one vector per input, as floats or as base64 of
    /// little-endian float32 (the `encoding_format` the client asked for).
    private func embeddings(_ request: Request) async throws -> Response {
        let (json, headers) = try await record(request)
        guard accepts(headers["authorization"].map { String($0.dropFirst("Bearer ".count)) }) else {
            return Response(
                status: .unauthorized, headers: [.contentType: "application/json"],
                body: .init(
                    byteBuffer: ByteBuffer(
                        string: #"{"error":{"message":"bad key","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#)))
        }
        let inputs = (json["input"] as? [Any])?.count ?? 1
        let base64 = json["encoding_format"] as? String == "base64"
        let vector: Any =
            base64
            ? Self.embedding.withUnsafeBufferPointer { Data(buffer: $0) }.base64EncodedString()
            : Self.embedding.map { Double($0) }
        let body: [String: Any] = [
            "object": "list", "model": json["model"] as? String ?? "",
            "data": (0..<inputs).map { ["object": "embedding", "index": $0, "embedding": vector] },
            "usage": ["prompt_tokens": inputs * Self.embeddingTokensPerInput, "total_tokens": inputs * Self.embeddingTokensPerInput],
        ]
        let data = try JSONSerialization.data(withJSONObject: body)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Gemini's `batchEmbedContents`: one vector per request, and no usage (Gemini reports none).
    private func geminiEmbeddings(_ request: Request) async throws -> Response {
        let (json, headers) = try await record(request)
        guard accepts(headers["x-goog-api-key"]) else {
            return Response(
                status: .unauthorized, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: #"{"error":{"code":401,"message":"API key not valid.","status":"UNAUTHENTICATED"}}"#)))
        }
        let count = (json["requests"] as? [Any])?.count ?? 0
        let body: [String: Any] = ["embeddings": (0..<count).map { _ in ["values": Self.embedding.map { Double($0) }] }]
        let data = try JSONSerialization.data(withJSONObject: body)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    private func serve(
        _ request: Request, context: BasicRequestContext, format: Format, pathModel: String? = nil, pathStream: Bool = false,
        credentialHeader: String? = nil
    ) async throws -> Response {
        inFlight.state.withLock {
            $0.now += 1
            $0.peak = max($0.peak, $0.now)
        }
        var request = request
        let bytes = try await request.collectBody(upTo: 64 << 20)
        let raw = String(buffer: bytes)
        let json = (try? JSONSerialization.jsonObject(with: Data(raw.utf8))) as? [String: Any] ?? [:]
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        log.withLock {
            $0.append(
                Received(path: request.uri.path, headers: headers, body: json.mapValues { "\($0)" }, rawBody: raw, query: request.uri.query ?? ""))
        }
        let key: String?
        let keyHeader = credentialHeader ?? openAIKeyHeader
        switch format {
        case .openAI where keyHeader != "authorization", .responses where keyHeader != "authorization": key = headers[keyHeader]
        case .openAI, .responses: key = headers["authorization"].map { String($0.dropFirst("Bearer ".count)) }
        case .anthropic: key = headers["x-api-key"]
        case .gemini: key = headers["x-goog-api-key"]
        }
        let model = pathModel ?? json["model"] as? String ?? ""
        let stream = format == .gemini ? pathStream : json["stream"] as? Bool ?? false
        var behaviour = FakeBehaviour(model: model)
        if behaviour == .normal, modelsPrefixCache, let prefix = Self.promptStart(json) {
            // A provider's prompt cache, per account (upstream key): a prompt whose start this key sent before is read from it.
            let seen = prefixes.withLock { !$0.insert((key ?? "") + "\u{0}" + prefix).inserted }
            if seen { behaviour = .cached }
        }
        let answer = FakeAnswer(format: format, model: model, behaviour: behaviour, request: json, headers: headers)
        let counter = inFlight
        let keyName = key ?? ""
        counter.perKey.withLock {
            $0[keyName, default: (0, 0)].now += 1
            $0[keyName]!.peak = max($0[keyName]!.peak, $0[keyName]!.now)
        }
        let release: @Sendable () -> Void = {
            counter.state.withLock { $0.now -= 1 }
            counter.perKey.withLock { $0[keyName]?.now -= 1 }
        }
        guard let key, acceptedKeys.contains(key), !refusedKeys.contains(key) else {
            release()
            return answer.error(status: 401)
        }
        switch behaviour {
        case .status(let status):
            release()
            return answer.error(status: status)
        case .banned:
            release()
            return answer.banned()
        case .slowFirstByte(let ms):
            try? await Task.sleep(for: .milliseconds(ms))
        default:
            break
        }
        guard stream else {
            release()
            return answer.json()
        }
        return answer.stream(onWrite: { counter.written.withLock { $0 += 1 } }, onFinish: release, held: { await self.waitForRelease() })
    }
}

/// Requests in flight at the fake, now and at the most.
final class InFlightCounter: Sendable {
    let state = Mutex<(now: Int, peak: Int)>((0, 0))
    let written = Mutex(0)
    let perKey = Mutex<[String: (now: Int, peak: Int)]>([:])
}
