public import NIOCore
public import SwitchboardCore

/// A client's request body, validated, with the few fields the gateway decides on.
///
/// The body itself is kept as the client sent it; `upstreamBody(model:)` splices
/// only what must change, so system prompts and tools reach the upstream byte for
/// byte and prompt caches stay warm.
public struct ClientRequest: Sendable {
    /// The dialect the body is written in.
    public var dialect: Dialect
    /// The body as received.
    public internal(set) var body: ByteBuffer
    /// The model the client asked for.
    public var model: String
    /// Whether the client asked for a stream.
    public var stream: Bool
    /// Whether the client itself asked for a usage chunk (OpenAI `stream_options.include_usage`).
    public var clientWantsUsage: Bool
    /// The client's output cap, where it set one.
    public var maxTokens: Int64?
    /// The conversation this request belongs to, from the body: an explicit
    /// session id, else a fingerprint of its start; nil when there is neither.
    public var sessionHint: String?
    /// The stored response a Responses request continues: only the account that
    /// answered it can find it.
    public var previousResponseID: String?
    /// Which of Claude Code's background requests (warmup, title, topic) this is, if any.
    public var localAnswer: LocalAnswer.Kind?

    /// Whether the body gives the model its own instructions (Responses
    /// `instructions`), so an account's default ones are not added.
    public var hasInstructions = false

    /// Where the model string sits in `body` (nil when the model is in the path).
    var modelRange: Range<Int>?
    /// Where default instructions would go: the null they replace, or an insertion point.
    var instructionsRange: Range<Int>?
    /// The splice that makes an OpenAI stream report usage, if one is needed.
    var usageEdit: BodyEdit?

    /// The largest `max_tokens` accepted; no model comes near it.
    public static let maxTokensLimit: Int64 = 10_000_000

    /// Validates a body and reads the fields the gateway needs. Gemini names the
    /// model in the path (`pathModel`) and streams by route (`pathStream`).
    public static func inspect(
        _ body: ByteBuffer, dialect: Dialect, pathModel: String? = nil, pathStream: Bool = false
    ) throws(GatewayError) -> ClientRequest {
        let result: Result<ClientRequest, GatewayError> = body.withUnsafeReadableBytes { bytes in
            let reader = JSONReader(bytes)
            let root: JSONSpan
            do {
                root = try reader.validateDocument()
            } catch {
                return .failure(GatewayError(.invalidJSON, message: "The request body is not valid JSON (\(error))."))
            }
            guard root.kind == .object else {
                return .failure(GatewayError(.invalidRequest, message: "The request body must be a JSON object."))
            }
            let members = reader.members(of: root)
            func last(_ name: String) -> JSONSpan? { members.last { $0.name == name }?.value }
            let model: String
            var modelRange: Range<Int>?
            if dialect == .gemini {
                guard let pathModel, !pathModel.isEmpty else { return .failure(GatewayError(.missingModel, param: "model")) }
                model = pathModel
            } else {
                guard let modelSpan = last("model"), let named = reader.string(modelSpan), !named.isEmpty else {
                    return .failure(GatewayError(.missingModel, param: "model"))
                }
                model = named
                modelRange = modelSpan.start..<modelSpan.end
            }
            let stream = dialect == .gemini ? pathStream : last("stream").flatMap(reader.bool) ?? false
            let maxTokensSpan: JSONSpan?
            switch dialect {
            case .openAIChat, .anthropicMessages: maxTokensSpan = last("max_tokens") ?? last("max_completion_tokens")
            case .openAIResponses: maxTokensSpan = last("max_output_tokens")
            case .gemini: maxTokensSpan = reader.value(at: ["generationConfig", "maxOutputTokens"], in: root)
            }
            let maxTokens = maxTokensSpan.flatMap(reader.int64)
            if let span = maxTokensSpan, span.kind != .null {
                // Budgets hold max_tokens at the output price: it must be a sane positive count.
                guard let value = maxTokens, (1...Self.maxTokensLimit).contains(value) else {
                    return .failure(GatewayError(
                        .invalidRequest, message: "max_tokens must be a whole number from 1 to \(Self.maxTokensLimit).",
                        param: "max_tokens"))
                }
            }
            var wantsUsage = false
            var usageEdit: BodyEdit?
            if dialect == .openAIChat, stream {
                (wantsUsage, usageEdit) = openAIUsageEdit(reader: reader, root: root, streamOptions: last("stream_options"))
            }
            let session = SessionHint.explicit(reader: reader, root: root, dialect: dialect)
                ?? SessionHint.fingerprint(reader: reader, root: root, dialect: dialect, bytes: bytes)
            var request = ClientRequest(
                dialect: dialect, body: body, model: model, stream: stream,
                clientWantsUsage: wantsUsage, maxTokens: maxTokens, sessionHint: session,
                modelRange: modelRange, usageEdit: usageEdit)
            request.localAnswer = dialect == .anthropicMessages ? LocalAnswer.kind(reader: reader, root: root) : nil
            if dialect == .openAIResponses {
                if let problem = ResponsesInput.unpairedToolOutput(reader: reader, root: root) { return .failure(problem) }
                request.previousResponseID = last("previous_response_id").flatMap(reader.string).flatMap { $0.isEmpty ? nil : $0 }
                let instructions = last("instructions")
                request.hasInstructions = instructions.map { $0.kind != .null && reader.string($0) != "" } ?? false
                if let instructions, instructions.kind == .null {
                    request.instructionsRange = instructions.start..<instructions.end
                } else if instructions == nil {
                    request.instructionsRange = (root.end - 1)..<(root.end - 1)
                }
            }
            return .success(request)
        }
        return try result.get()
    }

    /// The body to send upstream: the model renamed where the account maps it,
    /// OpenAI streams asked to report usage, which billing needs, and an
    /// account's default Responses instructions where the request has none.
    public func upstreamBody(model upstreamModel: String, defaultInstructions: String? = nil) -> ByteBuffer {
        var edits: [BodyEdit] = []
        if upstreamModel != model, let modelRange {
            edits.append(BodyEdit(range: modelRange, replacement: jsonStringLiteral(upstreamModel)))
        }
        if let usageEdit { edits.append(usageEdit) }
        if let defaultInstructions, let range = instructionsRange {
            let value = jsonStringLiteral(defaultInstructions)
            edits.append(BodyEdit(range: range, replacement: range.isEmpty ? #","instructions":"# + value : value))
        }
        return BodyEdit.apply(edits, to: body)
    }

    /// Works out whether the client asked for usage and how to make sure upstream sends it.
    private static func openAIUsageEdit(reader: JSONReader, root: JSONSpan, streamOptions: JSONSpan?)
        -> (Bool, BodyEdit?)
    {
        guard let options = streamOptions, options.kind == .object else {
            if let options = streamOptions {  // null or another kind: replace it
                return (false, BodyEdit(range: options.start..<options.end, replacement: #"{"include_usage":true}"#))
            }
            // Insert just before the root's closing brace; the root has a model, so it is not empty.
            return (false, BodyEdit(range: (root.end - 1)..<(root.end - 1), replacement: #","stream_options":{"include_usage":true}"#))
        }
        if let flag = reader.member("include_usage", of: options) {
            if reader.bool(flag) == true { return (true, nil) }
            return (false, BodyEdit(range: flag.start..<flag.end, replacement: "true"))
        }
        let insertAt = options.start + 1
        let separator = reader.isEmptyContainer(options) ? "" : ","
        return (false, BodyEdit(range: insertAt..<insertAt, replacement: #""include_usage":true"# + separator))
    }
}
