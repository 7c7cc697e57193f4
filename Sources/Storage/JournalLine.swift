import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Writes one journal record as one line of JSON, by hand: every admitted
/// request writes two (its open and its close), so Foundation's
/// `JSONEncoder` (an encoder, a container tree and a copy per line) was a
/// measurable share of a request's CPU. The shape is exactly what the
/// synthesized `Codable` conformance writes (absent optionals left out, dates
/// as milliseconds since 1970), so recovery reads it with `JSONDecoder`.
struct JournalLine {
    private(set) var bytes: [UInt8] = []
    private var first = true

    /// The line of `record`, newline included.
    static func of(_ record: LedgerJournal.Record) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(512)
        append(record, to: &bytes)
        return bytes
    }

    /// Writes the line of `record`, newline included, at the end of `buffer`
    /// (the journal's pending bytes: no line of its own is made).
    static func append(_ record: LedgerJournal.Record, to buffer: inout [UInt8]) {
        var line = JournalLine()
        swap(&line.bytes, &buffer)
        line.object {
            $0.field("op", record.op)
            $0.field("id", record.id)
            if let entry = record.entry { $0.field("entry") { $0.write(entry) } }
            if let progress = record.progress { $0.field("progress") { $0.write(progress) } }
        }
        line.bytes.append(UInt8(ascii: "\n"))
        swap(&line.bytes, &buffer)
    }

    private mutating func write(_ entry: LedgerJournal.Entry) {
        object {
            $0.field("requestID", entry.requestID)
            $0.field("createdAt", entry.createdAt)
            $0.field("keyID", entry.keyID)
            $0.field("keyName", entry.keyName)
            $0.field("userName", entry.userName)
            $0.field("dialect", entry.dialect)
            $0.field("model", entry.model)
            $0.field("stream", entry.stream)
            $0.field("hold", entry.hold.picos)
            $0.field("holdTokens", entry.holdTokens)
            $0.field("promptBytes", Int64(entry.promptBytes))
            $0.field("multiplierPPM", entry.multiplierPPM)
            $0.field("clientAddress", entry.clientAddress)
            $0.field("userAgent", entry.userAgent)
            $0.field("session", entry.session)
        }
    }

    private mutating func write(_ progress: LedgerJournal.Progress) {
        object {
            $0.field("accountID", progress.accountID)
            $0.field("accountName", progress.accountName)
            $0.field("provider", progress.provider)
            $0.field("upstreamModel", progress.upstreamModel)
            $0.field("deliveredBytes", progress.deliveredBytes)
            $0.field("deliveredTextBytes", progress.deliveredTextBytes)
        }
    }

    // MARK: JSON

    private mutating func object(_ members: (inout JournalLine) -> Void) {
        bytes.append(UInt8(ascii: "{"))
        let outer = first
        first = true
        members(&self)
        first = outer
        bytes.append(UInt8(ascii: "}"))
    }

    private mutating func key(_ name: StaticString) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    private mutating func field(_ name: StaticString, _ value: (inout JournalLine) -> Void) {
        key(name)
        value(&self)
    }

    private mutating func field(_ name: StaticString, _ value: String?) {
        guard let value else { return }
        key(name)
        string(value)
    }

    private mutating func field(_ name: StaticString, _ value: Int64?) {
        guard let value else { return }
        key(name)
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        // The magnitude's digits (Int64.min's does not fit Int64), least significant first, then turned round.
        var magnitude = value.magnitude
        let start = bytes.count
        repeat {
            bytes.append(UInt8(ascii: "0") + UInt8(magnitude % 10))
            magnitude /= 10
        } while magnitude > 0
        bytes[start...].reverse()
    }

    private mutating func field(_ name: StaticString, _ value: Bool) {
        key(name)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    /// As `JSONEncoder.DateEncodingStrategy.millisecondsSince1970`: a number,
    /// in the shortest form that reads back as the same double.
    private mutating func field(_ name: StaticString, _ value: Date) {
        key(name)
        let milliseconds = value.timeIntervalSince1970 * 1000
        bytes.append(contentsOf: (milliseconds.isFinite ? milliseconds.description : "0").utf8)
    }

    private static let hex = Array("0123456789abcdef".utf8)

    /// A JSON string: quotes, backslashes and control characters escaped, the rest as UTF-8.
    private mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                bytes.append(contentsOf: [UInt8(ascii: "\\"), byte])
            case 0..<0x20:
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                bytes.append(contentsOf: [Self.hex[Int(byte >> 4)], Self.hex[Int(byte & 0xF)]])
            default:
                bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
