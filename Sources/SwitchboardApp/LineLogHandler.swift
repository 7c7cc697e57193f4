import Foundation
import Logging
import SwitchboardCore
import Synchronization

/// Writes one log line per event to standard error, with every value escaped
/// and capped: whatever a client or upstream managed to put into a model name
/// or an error type can neither start a new line nor make a line huge.
///
/// `2026-12-04T12:00:00Z info switchboard: request model=gpt-4o status=200`
///
/// With `log_format: json`, the same event as one JSON object per line:
/// `{"time":"…","level":"info","label":"switchboard","message":"request","model":"gpt-4o","status":"200"}`
/// (metadata values as strings, capped alike; JSON escaping keeps each on one line).
public struct LineLogHandler: LogHandler {
    /// The longest value written, in bytes; longer ones are cut and marked.
    public static let maxValueBytes = 512

    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let format: LogFormat

    /// A handler for one logger label.
    public init(label: String, format: LogFormat = .text) {
        self.label = label
        self.format = format
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        LogOutput.shared.append(render(event))
    }

    /// Writes every line logged so far; the process calls it before it exits.
    public static func flush() { LogOutput.shared.flush() }

    /// The event as the line written, newline included.
    func render(_ event: LogEvent) -> String {
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }.sorted(by: { $0.key < $1.key })
        var line: String
        switch format {
        case .text:
            line = Self.timestamp() + " " + event.level.rawValue + " " + Self.escape(label, quoteSpaces: false) + ": "
            line += Self.escape(event.message.description, quoteSpaces: false)
            for (key, value) in merged {
                line += " " + Self.escape(key, quoteSpaces: false) + "=" + Self.escape(value.description, quoteSpaces: true)
            }
        case .json:
            // Fixed members first; metadata may not replace them.
            var members = [("time", Self.timestamp()), ("level", event.level.rawValue), ("label", label), ("message", event.message.description)]
            let fixed = Set(members.map(\.0))
            members += merged.filter { !fixed.contains($0.key) }.map { ($0.key, $0.value.description) }
            line = "{" + members.map { Self.jsonString($0.0) + ":" + Self.jsonString($0.1) }.joined(separator: ",") + "}"
        }
        return line + "\n"
    }

    /// The text with control characters, quotes and backslashes escaped, cut at
    /// `maxValueBytes`; quoted when it holds a space and `quoteSpaces` is set.
    public static func escape(_ text: String, quoteSpaces: Bool) -> String {
        var out = ""
        var bytes = 0
        var cut = false
        for scalar in text.unicodeScalars {
            let piece: String
            switch scalar {
            case "\n": piece = "\\n"
            case "\r": piece = "\\r"
            case "\t": piece = "\\t"
            case "\\": piece = "\\\\"
            case "\"": piece = "\\\""
            case let s
            where s.value < 0x20 || s.value == 0x7F || (0x80...0x9F).contains(s.value)
                || s.value == 0x2028 || s.value == 0x2029:
                piece = "\\u{" + String(s.value, radix: 16) + "}"
            default: piece = String(scalar)
            }
            if bytes + piece.utf8.count > maxValueBytes {
                cut = true
                break
            }
            bytes += piece.utf8.count
            out += piece
        }
        if cut { out += "…" }
        if quoteSpaces, out.isEmpty || out.contains(" ") { return "\"" + out + "\"" }
        return out
    }

    /// A JSON string of the text, cut at `maxValueBytes` like text values.
    static func jsonString(_ text: String) -> String {
        var cut = String(text.utf8.prefix(maxValueBytes)) ?? String(text.unicodeScalars.prefix(maxValueBytes / 4))
        if cut.utf8.count < text.utf8.count { cut += "…" }
        // Valid in JSON, but line breaks to many readers: escaped, as in text lines.
        // One pass; it also escapes U+0085, U+2028 and U+2029, line breaks to many readers.
        return jsonStringLiteral(cut)
    }

    /// `2026-12-05T03:35:35.123Z`; the part up to the second is formatted once a second.
    private static func timestamp() -> String {
        let now = Date().timeIntervalSince1970
        let second = Int64(now.rounded(.down))
        let milliseconds = min(999, max(0, Int((now - Double(second)) * 1000)))
        let prefix = secondCache.withLock { cache -> String in
            if cache.second != second {
                let whole = Date(timeIntervalSince1970: Double(second)).formatted(Date.ISO8601FormatStyle())
                cache = (second, String(whole.dropLast()))  // without its "Z"
            }
            return cache.text
        }
        let digits = String(milliseconds)
        return prefix + "." + String(repeating: "0", count: 3 - digits.count) + digits + "Z"
    }

    private static let secondCache = Mutex<(second: Int64, text: String)>((-1, ""))
}

/// Where log lines go: appended to a buffer by the thread that logged them
/// (an event loop must never wait on a write), written to standard error in
/// batches by one thread of its own every 10 ms. The buffer is bounded: past
/// 4 MiB waiting, lines are dropped and counted (said in the next batch), never
/// blocking or growing without end.
final class LogOutput: Sendable {
    static let shared = LogOutput()
    static let maxWaitingBytes = 4 << 20

    private struct Pending {
        var bytes: [UInt8] = []
        var dropped = 0
        var started = false
    }

    private let pending = Mutex(Pending())
    /// Serialises writers (the thread and `flush`), so batches never interleave.
    private let writing = Mutex(())

    func append(_ line: String) {
        let startWriter = pending.withLock { state -> Bool in
            if state.bytes.count + line.utf8.count > Self.maxWaitingBytes {
                state.dropped += 1
            } else {
                state.bytes.append(contentsOf: line.utf8)
            }
            defer { state.started = true }
            return !state.started
        }
        if startWriter {
            Thread.detachNewThread { [self] in
                while true {
                    usleep(10_000)
                    flush()
                }
            }
        }
    }

    /// Writes what is waiting, now.
    func flush() {
        writing.withLock { _ in
            var (bytes, dropped) = pending.withLock { state -> ([UInt8], Int) in
                defer { (state.bytes, state.dropped) = ([], 0) }
                return (state.bytes, state.dropped)
            }
            if dropped > 0 { bytes += Array("switchboard: \(dropped) log lines dropped: standard error was not keeping up\n".utf8) }
            var rest = bytes[...]
            while !rest.isEmpty {
                let written = rest.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
                if written <= 0 { break }  // nowhere to write: drop the batch, never block or crash
                rest = rest.dropFirst(written)
            }
        }
    }
}

/// How log events are written.
public enum LogFormat: String, Sendable {
    case text
    case json
}
