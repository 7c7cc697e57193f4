import Dialects
import NIOCore
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The readers of outside bytes, each as one function of arbitrary input: the
/// libFuzzer targets (Fuzz/) call them, and the test suite replays every seed
/// and every input a fuzzer ever crashed on (Fuzz/Corpus/<target>/). Nothing
/// here may trap, whatever the bytes.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// The JSON reader: validation and every accessor.
    case json
    /// The SSE parser, fed the input in chunks at every split the input picks.
    case sse
    /// Request inspection in each dialect, and translation of what passes.
    case request
    /// Upstream answers and streams read back: usage, text, translation to each client format.
    case answer
    /// `Retry-After` and the other rate-limit reset headers.
    case retryAfter = "retry_after"

    /// Runs one input.
    public func run(_ bytes: UnsafeRawBufferPointer) {
        switch self {
        case .json: Self.json(bytes)
        case .sse: Self.sse(bytes)
        case .request: Self.request(bytes)
        case .answer: Self.answer(bytes)
        case .retryAfter: Self.retryAfter(bytes)
        }
    }

    /// Runs one input given as bytes.
    public func run(_ data: [UInt8]) { data.withUnsafeBytes { run($0) } }

    static func json(_ bytes: UnsafeRawBufferPointer) {
        let reader = JSONReader(bytes)
        guard let root = try? reader.validateDocument() else { return }
        var budget = 10_000
        func walk(_ span: JSONSpan) {
            guard budget > 0 else { return }
            budget -= 1
            switch span.kind {
            case .object: for member in reader.members(of: span) { walk(member.value) }
            case .array: for element in reader.elements(of: span) { walk(element) }
            case .string: _ = reader.string(span)
            case .number:
                _ = reader.int64(span)
                _ = reader.saturatingInt64(span)
            default: _ = reader.text(span)
            }
        }
        walk(root)
    }

    static func sse(_ bytes: UnsafeRawBufferPointer) {
        guard let split = bytes.first else { return }
        var parser = SSEParser(maxEventBytes: 64 * 1024)
        var offset = 1
        let step = max(1, Int(split))
        while offset < bytes.count {
            let end = min(bytes.count, offset + step)
            guard (try? parser.push(ByteBuffer(bytes: bytes[offset..<end]))) != nil else { return }
            offset = end
        }
        _ = parser.finish()
    }

    static let dialects: [Dialect] = [.openAIChat, .anthropicMessages, .openAIResponses, .gemini]

    static func request(_ bytes: UnsafeRawBufferPointer) {
        guard let selector = bytes.first else { return }
        let dialect = dialects[Int(selector) % dialects.count]
        let body = ByteBuffer(bytes: bytes.dropFirst())
        guard let client = try? ClientRequest.inspect(body, dialect: dialect, pathModel: "gemini-2.5-flash", pathStream: selector & 0x10 != 0)
        else { return }
        _ = client.upstreamBody(model: "upstream-model", defaultInstructions: selector & 0x20 != 0 ? "Be brief." : nil)
        if let translator = try? Translator(client) {
            for provider in [Provider.openai, .anthropic, .gemini] { _ = try? translator.upstreamBody(for: provider, model: "m") }
        }
        if let counting = try? Translator(counting: client) {
            for provider in [Provider.anthropic, .gemini] { _ = try? counting.countBody(for: provider, model: "m") }
            _ = counting.estimatedTokens()
        }
        _ = try? EmbeddingsTranslator(client)
    }

    /// A request every translation accepts, for reading answers back.
    static let sampleRequest = #"{"model":"m","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#

    static func answer(_ bytes: UnsafeRawBufferPointer) {
        guard let selector = bytes.first else { return }
        let upstream = dialects[Int(selector) % dialects.count]
        let client = dialects[Int(selector >> 2) % dialects.count]
        let rest = UnsafeRawBufferPointer(rebasing: bytes.dropFirst())
        _ = UsageReader.answer(rest, dialect: upstream)
        _ = DeliveredText.count(rest, dialect: upstream)
        let provider: Provider = upstream == .anthropicMessages ? .anthropic : upstream == .gemini ? .gemini : .openai
        let body = ByteBuffer(bytes: rest)
        _ = Translator.upstreamMessage(body)
        guard
            let request = try? ClientRequest.inspect(
                ByteBuffer(string: client == .gemini ? #"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"# : sampleRequest),
                dialect: client, pathModel: "m", pathStream: true),
            let translator = try? Translator(request)
        else { return }
        _ = translator.clientBody(fromUpstream: body, provider: provider, usage: TokenUsage(inputUncached: 1), requestID: "req_fuzz")
        // The same bytes as a stream, through the translating observer and the native one.
        var parser = SSEParser(maxEventBytes: 64 * 1024)
        guard let events = try? parser.push(body) else { return }
        var translated = translator.streamObserver(provider: provider, requestID: "req_fuzz", clientWantsUsage: selector & 0x40 != 0)
        var native = makeStreamObserver(for: request)
        for event in events + parser.finish().events {
            _ = translated.observe(event)
            _ = native.observe(event)
        }
        _ = translated.usage
        _ = translated.missingEnd
    }

    static func retryAfter(_ bytes: UnsafeRawBufferPointer) {
        let text = String(decoding: bytes, as: UTF8.self)
        var headers: [(name: String, value: String)] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true).prefix(16) {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            headers.append((String(parts[0]).lowercased(), String(parts[1])))
        }
        if let wait = RetryAfter.hint(from: headers, now: Date(timeIntervalSince1970: 1_800_000_000)) {
            _ = RetryAfter.seconds(wait)
        }
        _ = RetryAfter.goDuration(text)
    }
}
