import Foundation
import NIOCore
import Storage
import SwitchboardCore

/// `capture:` settings: request and response bodies kept for chosen keys,
/// truncated, redacted and sealed with the master key. Off unless keys are named.
public struct CaptureSettings: Sendable {
    /// The keys whose exchanges are kept, by name.
    public var keys: Set<String>
    /// The most bytes kept of each body.
    public var maxBytes: Int
    /// JSON field names whose values are replaced by `[redacted]`, at any depth.
    public var redact: Set<String>
    /// Seals a capture's text (the master key's box; set by the app).
    public var seal: @Sendable (String) throws -> SealedSecret

    public init(keys: Set<String>, maxBytes: Int = 65_536, redact: Set<String> = [], seal: @escaping @Sendable (String) throws -> SealedSecret) {
        self.keys = keys
        self.maxBytes = maxBytes
        self.redact = redact
        self.seal = seal
    }

    /// The largest `max_bytes` accepted: 16 MiB.
    public static let maxBytesLimit = 16 * 1024 * 1024
}

/// One exchange as captured: what the client sent and what it got back.
public struct CapturedExchange: Sendable, Equatable, Codable {
    public var request: String
    public var requestTruncated: Bool
    /// What the client got (a stream's events as sent); nil when the gateway answered with its own error.
    public var response: String?
    public var responseTruncated: Bool

    public init(request: String, requestTruncated: Bool, response: String?, responseTruncated: Bool) {
        self.request = request
        self.requestTruncated = requestTruncated
        self.response = response
        self.responseTruncated = responseTruncated
    }
}

extension CaptureSettings {
    /// The exchange's bodies, redacted then cut to `maxBytes`, sealed.
    func sealed(request: ByteBuffer, response: ByteBuffer?, streamed: Bool, responseCut: Bool) -> SealedSecret? {
        let (requestText, requestCut) = kept(request, stream: false)
        let kept = response.map { self.kept($0, stream: streamed) }
        let exchange = CapturedExchange(
            request: requestText, requestTruncated: requestCut, response: kept?.0, responseTruncated: (kept?.1 ?? false) || responseCut)
        guard let data = try? JSONEncoder().encode(exchange) else { return nil }
        return try? seal(String(decoding: data, as: UTF8.self))
    }

    /// A body as kept: with redaction on, each JSON document (the body, or each
    /// event's `data:` line) has the named fields' values replaced, and what
    /// cannot be read as JSON is left out (never stored unredacted).
    func kept(_ body: ByteBuffer, stream: Bool) -> (String, Bool) {
        var text = String(buffer: body)
        if !redact.isEmpty {
            if stream {
                // Lines end in LF, CRLF or CR (Swift reads CRLF as one character, so normalise first).
                let lines = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
                text = lines.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
                    if line.hasPrefix("data:") {
                        let payload = line.dropFirst(5).trimmingCharacters(in: .whitespaces)
                        if payload == "[DONE]" { return String(line) }
                        return "data: " + (redacted(payload) ?? "[not JSON: left out]")
                    }
                    // Framing without payload stays; anything else is left out rather than kept unredacted.
                    let framing = line.isEmpty || line.hasPrefix("event:") || line.hasPrefix("id:") || line.hasPrefix("retry:")
                    return framing ? String(line.prefix(200)) : "[not an event field: left out]"
                }.joined(separator: "\n")
            } else {
                text = redacted(text) ?? "[not JSON (\(body.readableBytes) bytes): left out, since redaction is on]"
            }
        }
        guard text.utf8.count > maxBytes else { return (text, false) }
        var cut = text.utf8.prefix(maxBytes)
        while !cut.isEmpty, String(bytes: cut, encoding: .utf8) == nil { cut = cut.dropLast() }
        return (String(decoding: cut, as: UTF8.self), true)
    }

    /// A JSON document with the named fields' values replaced; nil when it is not JSON.
    func redacted(_ text: String) -> String? {
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else { return nil }
        func scrub(_ value: JSONValue) -> JSONValue {
            switch value {
            case .object(let fields):
                return .object(
                    Dictionary(uniqueKeysWithValues: fields.map { ($0.key, redact.contains($0.key) ? .string("[redacted]") : scrub($0.value)) }))
            case .array(let items): return .array(items.map(scrub))
            default: return value
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(scrub(value))).map { String(decoding: $0, as: UTF8.self) }
    }
}
