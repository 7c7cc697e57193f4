public import NIOCore
public import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Carries an OpenAI embeddings request to a Gemini account
/// (`batchEmbedContents`) and its vectors back, in the encoding the client asked
/// for: float arrays, or base64 of little-endian float32 (the openai SDK's default).
public struct EmbeddingsTranslator: Sendable {
    /// The texts to embed, in order.
    public let inputs: [String]
    public let base64: Bool
    public let dimensions: Int?
    public let clientModel: String

    /// Reads an OpenAI embeddings request.
    public init(_ request: ClientRequest) throws(GatewayError) {
        guard let tree = try? request.body.withUnsafeReadableBytes({ bytes throws(JSONSyntaxError) in try JSON.parse(bytes) }) else {
            throw GatewayError(.invalidJSON)
        }
        try TranslationError.checkFields(tree, carried: ["model", "input", "encoding_format", "dimensions"], ignored: ["user"])
        switch tree["input"] {
        case .string(let text)?: inputs = [text]
        case .array(let items)? where !items.isEmpty && items.allSatisfy({ $0.string != nil }): inputs = items.compactMap(\.string)
        default: throw TranslationError.value("An input other than text (token arrays)", param: "input")
        }
        guard inputs.count <= Self.maxInputs else {
            throw TranslationError.invalid(
                "Gemini embeds at most \(Self.maxInputs) inputs per request; this one has \(inputs.count). Send them in smaller batches.",
                param: "input")
        }
        switch tree["encoding_format"]?.string {
        case nil, "float": base64 = false
        case "base64": base64 = true
        case let other?:
            throw TranslationError.invalid("encoding_format must be float or base64, not \(jsonStringLiteral(other)).", param: "encoding_format")
        }
        dimensions = tree["dimensions"]?.int
        clientModel = request.model
    }

    /// The most inputs one `batchEmbedContents` call takes.
    public static let maxInputs = 100

    /// The `batchEmbedContents` body: one request per input.
    public func upstreamBody(model: String) -> ByteBuffer {
        let requests: [JSON] = inputs.map { text in
            object([
                ("model", .string(GeminiModelName.resource(model))), ("content", .object([("parts", .array([.object([("text", .string(text))])]))])),
                ("outputDimensionality", dimensions.map(JSON.int)),
            ])
        }
        return ByteBuffer(string: JSON.object([("requests", .array(requests))]).text)
    }

    /// Usage when Gemini reports none (it does not for embeddings): an estimate
    /// of one token per four bytes of each input, so the row says it is incomplete.
    public var estimatedUsage: TokenUsage {
        TokenUsage(inputUncached: Int64(inputs.reduce(0) { $0 + max(1, ($1.utf8.count + 3) / 4) }))
    }

    /// The OpenAI answer from Gemini's vectors; nil when they are not there.
    public func clientBody(fromUpstream body: ByteBuffer, usage: TokenUsage) -> ByteBuffer? {
        guard let tree = try? body.withUnsafeReadableBytes({ bytes throws(JSONSyntaxError) in try JSON.parse(bytes) }),
            let embeddings = tree["embeddings"]?.array, embeddings.count == inputs.count
        else { return nil }
        var data: [JSON] = []
        for (index, embedding) in embeddings.enumerated() {
            guard let values = embedding["values"]?.array else { return nil }
            let vector: JSON
            if base64 {
                var bytes = [UInt8]()
                bytes.reserveCapacity(values.count * 4)
                for value in values {
                    let bits = Float(value.numberText ?? "0")?.bitPattern.littleEndian ?? 0
                    withUnsafeBytes(of: bits) { bytes.append(contentsOf: $0) }
                }
                vector = .string(Data(bytes).base64EncodedString())
            } else {
                vector = .array(values)
            }
            data.append(.object([("object", .string("embedding")), ("index", .int(index)), ("embedding", vector)]))
        }
        let answer = JSON.object([
            ("object", .string("list")), ("data", .array(data)), ("model", .string(clientModel)),
            ("usage", .object([("prompt_tokens", .int(usage.totalInput)), ("total_tokens", .int(usage.totalInput))])),
        ])
        return ByteBuffer(string: answer.text)
    }
}
