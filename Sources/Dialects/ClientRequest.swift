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
    /// The client's output cap, where it set one: the largest of the dialect's
    /// cap fields (Chat has two, and an upstream may honour either).
    public var maxTokens: Int64?
    /// How many answers the request asks for (Chat `n`, Gemini `candidateCount`); each may use `maxTokens`.
    public var choices: Int64 = 1
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
    /// The most answers one request may ask for (OpenAI allows 128).
    public static let maxChoices: Int64 = 128
    /// The longest model name accepted, in bytes.
    public static let maxModelBytes = 256

    /// Top-level fields whose value decides how the gateway handles the request.
    static let decidingFields: Set<String> = [
        "model", "stream", "stream_options", "max_tokens", "max_completion_tokens", "max_output_tokens", "n",
        "generationConfig", "generation_config", "previous_response_id", "instructions",
    ]

    /// Why a model name is refused: too long, or holding control characters
    /// (it is stored, logged and sent on); nil when it is fine.
    public static func modelProblem(_ model: String) -> GatewayError? {
        if model.utf8.count > maxModelBytes {
            return GatewayError(.invalidRequest, message: "The model name is longer than \(maxModelBytes) bytes.", param: "model")
        }
        if model.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            return GatewayError(.invalidRequest, message: "The model name holds control characters.", param: "model")
        }
        return nil
    }

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
            // The fields the gateway decides on must mean one thing: a second copy
            // could be read differently upstream (the gateway reads one `model` or
            // `max_tokens`, the provider another), so duplicates are refused.
            var seen: Set<String> = []
            for member in members where Self.decidingFields.contains(member.name) && !seen.insert(member.name).inserted {
                return .failure(GatewayError(.invalidRequest, message: "The field \"\(member.name)\" appears more than once.", param: member.name))
            }
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
            if let problem = Self.modelProblem(model) { return .failure(problem) }
            let stream: Bool
            if dialect == .gemini {
                stream = pathStream
            } else {
                switch last("stream") {
                case nil: stream = false
                case let span? where span.kind == .null: stream = false
                case let span?:
                    guard let flag = reader.bool(span) else {
                        return .failure(GatewayError(.invalidRequest, message: "\"stream\" must be true or false.", param: "stream"))
                    }
                    stream = flag
                }
            }
            let caps: [(String, JSONSpan?)]
            var choicesField: (String, JSONSpan?)?
            switch dialect {
            case .openAIChat:
                caps = [("max_tokens", last("max_tokens")), ("max_completion_tokens", last("max_completion_tokens"))]
                choicesField = ("n", last("n"))
            case .anthropicMessages:
                caps = [("max_tokens", last("max_tokens"))]
            case .openAIResponses:
                caps = [("max_output_tokens", last("max_output_tokens"))]
            case .gemini:
                // Google accepts both spellings of every field.
                let config = last("generationConfig") ?? last("generation_config")
                func field(_ camel: String, _ snake: String) -> JSONSpan? {
                    config.flatMap { reader.member(camel, of: $0) ?? reader.member(snake, of: $0) }
                }
                caps = [("maxOutputTokens", field("maxOutputTokens", "max_output_tokens"))]
                choicesField = ("candidateCount", field("candidateCount", "candidate_count"))
            }
            var maxTokens: Int64?
            for (name, span) in caps {
                guard let span, span.kind != .null else { continue }
                // Budgets hold the cap at the output price: it must be a sane positive count.
                guard let value = reader.int64(span), (1...Self.maxTokensLimit).contains(value) else {
                    return .failure(
                        GatewayError(
                            .invalidRequest, message: "\(name) must be a whole number from 1 to \(Self.maxTokensLimit).", param: name))
                }
                maxTokens = max(maxTokens ?? 0, value)
            }
            var choices: Int64 = 1
            if let (name, span) = choicesField, let span, span.kind != .null {
                guard let value = reader.int64(span), (1...Self.maxChoices).contains(value) else {
                    return .failure(
                        GatewayError(
                            .invalidRequest, message: "\(name) must be a whole number from 1 to \(Self.maxChoices).", param: name))
                }
                choices = value
            }
            var wantsUsage = false
            var usageEdit: BodyEdit?
            if dialect == .openAIChat, stream {
                (wantsUsage, usageEdit) = openAIUsageEdit(reader: reader, root: root, streamOptions: last("stream_options"))
            }
            let session =
                SessionHint.explicit(reader: reader, root: root, dialect: dialect)
                ?? SessionHint.fingerprint(reader: reader, root: root, dialect: dialect, bytes: bytes)
            var request = ClientRequest(
                dialect: dialect, body: body, model: model, stream: stream,
                clientWantsUsage: wantsUsage, maxTokens: maxTokens, choices: choices, sessionHint: session,
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
