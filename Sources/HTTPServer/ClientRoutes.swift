import Dialects
import Engine
import Foundation
import Hummingbird
import NIOCore
import SwitchboardCore
import Upstream

/// The client-facing API: the routes real SDKs and agent CLIs call.
public struct ClientRoutes: Sendable {
    let gateway: Gateway

    /// Creates the routes.
    public init(gateway: Gateway) { self.gateway = gateway }

    /// Adds the routes to a router.
    public func register(on router: some RouterMethods<GatewayRequestContext>) {
        router.post("/v1/chat/completions") { request, context in
            await self.generate(request, context: context, dialect: .openAIChat)
        }
        router.post("/v1/messages") { request, context in
            await self.generate(request, context: context, dialect: .anthropicMessages)
        }
        router.post("/v1/messages/count_tokens") { request, context in
            Self.convert(
                await gateway.countTokens(
                    self.gatewayRequest(request, context: context, dialect: .anthropicMessages, operation: .anthropicCountTokens)))
        }
        for path in ["/v1/responses", "/openai/v1/responses"] {
            router.post(RouterPath(path)) { request, context in
                await self.generate(request, context: context, dialect: .openAIResponses)
            }
        }
        // Gemini: the model and the method share the rest of the path,
        // `{model}:{method}`, and a model name may itself hold a `/`. Google
        // serves both API versions, and google-genai 3.x uses `/v1` by default.
        for version in ClientRoutes.geminiVersions {
            router.post(RouterPath("/\(version)/models/**")) { request, context in
                await self.gemini(request, context: context)
            }
        }
        router.get("/v1beta/models") { request, context in
            Self.convert(gateway.models(credential: Self.credential(request), dialect: .gemini, requestID: context.requestID))
        }
        // `/v1/models/{model}`: Gemini's model, or OpenAI's and Anthropic's retrieve-model, by the client's headers.
        for version in ClientRoutes.geminiVersions {
            router.get(RouterPath("/\(version)/models/**")) { request, context in
                // By the client's headers, not the id: OpenAI ids may hold colons (`ft:gpt-4o-mini:org::id`, `llama3:8b`).
                let dialect: Dialect = version == "v1beta" ? .gemini : ErrorRendering.listingDialect(for: request)
                let name = dialect == .gemini ? Self.geminiTarget(request) : Self.modelsTarget(request)
                return Self.convert(gateway.model(name, credential: Self.credential(request), dialect: dialect, requestID: context.requestID))
            }
        }
        router.post("/v1/embeddings") { request, context in
            await self.generate(request, context: context, dialect: .openAIChat, operation: .openAIEmbeddings)
        }
        router.get("/v1/models") { request, context in
            Self.convert(
                gateway.models(
                    credential: Self.credential(request), dialect: ErrorRendering.listingDialect(for: request), requestID: context.requestID))
        }
        router.get("/v1/usage") { request, context in
            let dialect: Dialect = request.headers[HeaderNames.anthropicVersion] != nil ? .anthropicMessages : .openAIChat
            return Self.convert(gateway.usage(credential: Self.credential(request), dialect: dialect, requestID: context.requestID))
        }
        // Liveness, and the preconnect probes agent CLIs send to the base URL.
        router.get("/health") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#))) }
        // Readiness: 503 with the reasons while requests would be refused (the ledger stalled, say).
        router.get("/ready") { _, _ in
            let (ready, reasons) = gateway.readiness
            let body =
                ready
                ? #"{"status":"ready","reasons":[]}"#
                : #"{"status":"unavailable","reasons":[\#(reasons.map(jsonStringLiteral).joined(separator: ","))]}"#
            return Response(
                status: ready ? .ok : .serviceUnavailable, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        router.head("/") { _, _ in Response(status: .ok) }
        router.head("/api/hello") { _, _ in Response(status: .ok) }
    }

    /// A Gemini model call: `generateContent`, `streamGenerateContent` (always
    /// answered as SSE, as `alt=sse` asks) or `countTokens`.
    func gemini(_ request: Request, context: GatewayRequestContext) async -> Response {
        let target = Self.geminiTarget(request)
        guard let colon = target.lastIndex(of: ":") else {
            return ErrorRendering.response(GatewayError(.routeNotFound), dialect: .gemini, requestID: context.requestID)
        }
        let model = String(target[..<colon])
        let operation: UpstreamRequest.Operation
        switch target[target.index(after: colon)...] {
        case "generateContent": operation = .geminiGenerate
        case "streamGenerateContent": operation = .geminiStream
        case "countTokens":
            return Self.convert(
                await gateway.countTokens(
                    gatewayRequest(request, context: context, dialect: .gemini, operation: .geminiCountTokens, pathModel: model)))
        default:
            return ErrorRendering.response(
                GatewayError(.routeNotFound, message: "This gateway does not serve that Gemini method."), dialect: .gemini,
                requestID: context.requestID)
        }
        return Self.convert(
            await gateway.handle(
                gatewayRequest(request, context: context, dialect: .gemini, operation: operation, pathModel: model)))
    }

    /// The Gemini API versions served, as path prefixes.
    static let geminiVersions = ["v1beta", "v1"]

    /// What follows `/v1beta/models/` (or `/v1/models/`) in the path,
    /// percent-decoded, without a repeated `models/`.
    static func geminiTarget(_ request: Request) -> String {
        GeminiModelName.bare(modelsTarget(request))
    }

    /// What follows `/{version}/models/` in the path, percent-decoded.
    static func modelsTarget(_ request: Request) -> String {
        let path = request.uri.path
        for version in geminiVersions {
            let prefix = "/\(version)/models/"
            guard path.hasPrefix(prefix) else { continue }
            let rest = String(path.dropFirst(prefix.count))
            return rest.removingPercentEncoding ?? rest
        }
        return ""
    }

    /// Hands a generation request to the engine, which reads the body only once
    /// the key is known to be good.
    func generate(
        _ request: Request, context: GatewayRequestContext, dialect: Dialect, operation: UpstreamRequest.Operation? = nil
    ) async -> Response {
        Self.convert(await gateway.handle(gatewayRequest(request, context: context, dialect: dialect, operation: operation)))
    }

    /// The engine's view of a request: headers it may need, the key, and the body unread.
    func gatewayRequest(
        _ request: Request, context: GatewayRequestContext, dialect: Dialect, operation: UpstreamRequest.Operation? = nil,
        pathModel: String? = nil
    ) -> GatewayRequest {
        // One pass over the fields (a lookup by name per header the engine wants walks them all each time).
        var headers: [(name: String, value: String)] = []
        var forwardedFor: [String] = []
        for field in request.headers {
            let name = field.name.canonicalName
            if field.name == HeaderNames.forwardedFor {
                forwardedFor.append(field.value)
            } else if HeaderNames.passedToEngine.contains(name) {
                // A header given twice reaches the engine as one value, joined as HTTP allows.
                if let index = headers.firstIndex(where: { $0.name == name }) {
                    headers[index].value += ", " + field.value
                } else {
                    headers.append((name, field.value))
                }
            }
        }
        for value in forwardedFor { headers.append(("x-forwarded-for", value)) }
        let stream = request.body
        let body = BodySource(declaredLength: request.headers.value(.contentLength).flatMap(Int.init)) { limit throws(BodyReadFailure) in
            do {
                return try await stream.collect(upTo: limit)
            } catch is NIOTooManyBytesError {
                throw .tooLarge
            } catch {
                throw .unreadable
            }
        }
        return GatewayRequest(
            requestID: context.requestID, dialect: dialect, operation: operation, pathModel: pathModel,
            credential: Self.credential(request),
            headers: headers, body: body, receivedAt: context.receivedAt, peer: context.peer,
            eventLoop: context.eventLoop)
    }

    /// The key a request presents: `Authorization: Bearer`, `x-api-key`,
    /// `x-goog-api-key`, or Gemini's `?key=` query parameter.
    static func credential(_ request: Request) -> String? {
        if let authorization = request.headers.value(.authorization) {
            let utf8 = authorization.utf8
            if utf8.count > 7, zip(utf8, "bearer ".utf8).allSatisfy({ $0 | 0x20 == $1 }) {
                let token = utf8.dropFirst(7).drop { $0 == UInt8(ascii: " ") }
                return String(Substring(token))
            }
        }
        return request.headers.value(HeaderNames.apiKey) ?? request.headers.value(HeaderNames.googAPIKey)
            ?? request.uri.queryParameters["key"].map(String.init)
    }

    /// Turns the engine's answer into a Hummingbird response.
    static func convert(_ response: GatewayResponse) -> Response {
        var headers = HTTPFields()
        for (name, value) in response.headers {
            if let field = HeaderNames.name(name) { headers[field] = value }
        }
        switch response.body {
        case .full(let buffer):
            return Response(status: .init(code: response.status), headers: headers, body: .init(byteBuffer: buffer))
        case .stream(let producer):
            return Response(
                status: .init(code: response.status), headers: headers,
                body: ResponseBody { writer in
                    await producer { buffer in try await writer.write(buffer) }
                    try await writer.finish(nil)
                })
        }
    }
}
