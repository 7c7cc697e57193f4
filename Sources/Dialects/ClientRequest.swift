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
    public var body: ByteBuffer
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
    /// Whether this is Claude Code's warmup request: one user message saying "Warmup".
    public var isWarmup = false

    /// Where the model string sits in `body`.
    var modelRange: Range<Int>
    /// The splice that makes an OpenAI stream report usage, if one is needed.
    var usageEdit: BodyEdit?

    /// The largest `max_tokens` accepted; no model comes near it.
    public static let maxTokensLimit: Int64 = 10_000_000

    /// Validates a body and reads the fields the gateway needs.
    public static func inspect(_ body: ByteBuffer, dialect: Dialect) throws(GatewayError) -> ClientRequest {
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
            guard let modelSpan = last("model"), let model = reader.string(modelSpan), !model.isEmpty else {
                return .failure(GatewayError(.missingModel, param: "model"))
            }
            let stream = last("stream").flatMap(reader.bool) ?? false
            let maxTokensSpan = last("max_tokens") ?? last("max_completion_tokens")
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
                modelRange: modelSpan.start..<modelSpan.end, usageEdit: usageEdit)
            request.isWarmup = dialect == .anthropicMessages && LocalAnswer.isWarmup(reader: reader, root: root)
            return .success(request)
        }
        return try result.get()
    }

    /// The body to send upstream: the model renamed where the account maps it, and
    /// OpenAI streams asked to report usage, which billing needs.
    public func upstreamBody(model upstreamModel: String) -> ByteBuffer {
        var edits: [BodyEdit] = []
        if upstreamModel != model {
            edits.append(BodyEdit(range: modelRange, replacement: jsonStringLiteral(upstreamModel)))
        }
        if let usageEdit { edits.append(usageEdit) }
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
