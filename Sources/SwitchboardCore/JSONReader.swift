/// The kind of a JSON value.
public enum JSONKind: UInt8, Sendable {
    case object, array, string, number, bool, null
}

/// Where one JSON value sits in a byte buffer: `start..<end` covers its text exactly.
public struct JSONSpan: Hashable, Sendable {
    /// Offset of the value's first byte.
    public var start: Int
    /// Offset just past the value's last byte.
    public var end: Int
    /// What the value is.
    public var kind: JSONKind

    /// Creates a span.
    public init(start: Int, end: Int, kind: JSONKind) {
        self.start = start
        self.end = end
        self.kind = kind
    }
}

/// A JSON syntax error: where, and what was expected. It never quotes the input.
public struct JSONSyntaxError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Byte offset of the fault.
    public var offset: Int
    /// What was wrong, in a few fixed words.
    public var reason: String

    public var description: String { "\(reason) at byte \(offset)" }
}

/// Reads JSON in place, without building a tree.
///
/// The gateway relays bodies it does not own: it must know a handful of fields
/// (model, stream, usage) and leave every other byte as the client wrote it, so
/// that upstream prompt caches see the same prefix. `JSONReader` validates a
/// document in one pass and answers questions about it by offset; nothing is
/// copied unless a string is asked for.
public struct JSONReader {
    /// The bytes being read.
    public let bytes: UnsafeRawBufferPointer
    /// The deepest nesting accepted, so hostile input cannot exhaust the stack.
    public var maxDepth = 256

    /// Reads the given bytes; they must outlive the reader.
    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    // MARK: Validation

    /// Validates a whole document (one value, surrounded only by white space).
    public func validateDocument() throws(JSONSyntaxError) -> JSONSpan {
        var index = skipWhitespace(0)
        let root = try scanValue(&index, depth: 0)
        index = skipWhitespace(index)
        guard index == bytes.count else { throw JSONSyntaxError(offset: index, reason: "unexpected data after the value") }
        return root
    }

    /// Validates the value starting at `index` and moves `index` past it.
    func scanValue(_ index: inout Int, depth: Int) throws(JSONSyntaxError) -> JSONSpan {
        guard index < bytes.count else { throw JSONSyntaxError(offset: index, reason: "unexpected end of input") }
        let start = index
        switch bytes[index] {
        case UInt8(ascii: "{"):
            guard depth < maxDepth else { throw JSONSyntaxError(offset: index, reason: "nesting too deep") }
            index += 1
            index = skipWhitespace(index)
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return JSONSpan(start: start, end: index, kind: .object)
            }
            while true {
                index = skipWhitespace(index)
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                    throw JSONSyntaxError(offset: index, reason: "expected a member name")
                }
                try scanString(&index)
                index = skipWhitespace(index)
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                    throw JSONSyntaxError(offset: index, reason: "expected ':'")
                }
                index = skipWhitespace(index + 1)
                _ = try scanValue(&index, depth: depth + 1)
                index = skipWhitespace(index)
                guard index < bytes.count else { throw JSONSyntaxError(offset: index, reason: "unexpected end of input") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                if bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    break
                }
                throw JSONSyntaxError(offset: index, reason: "expected ',' or '}'")
            }
            return JSONSpan(start: start, end: index, kind: .object)
        case UInt8(ascii: "["):
            guard depth < maxDepth else { throw JSONSyntaxError(offset: index, reason: "nesting too deep") }
            index = skipWhitespace(index + 1)
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return JSONSpan(start: start, end: index, kind: .array)
            }
            while true {
                index = skipWhitespace(index)
                _ = try scanValue(&index, depth: depth + 1)
                index = skipWhitespace(index)
                guard index < bytes.count else { throw JSONSyntaxError(offset: index, reason: "unexpected end of input") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                if bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    break
                }
                throw JSONSyntaxError(offset: index, reason: "expected ',' or ']'")
            }
            return JSONSpan(start: start, end: index, kind: .array)
        case UInt8(ascii: "\""):
            try scanString(&index)
            return JSONSpan(start: start, end: index, kind: .string)
        case UInt8(ascii: "t"):
            try expectLiteral("true", &index)
            return JSONSpan(start: start, end: index, kind: .bool)
        case UInt8(ascii: "f"):
            try expectLiteral("false", &index)
            return JSONSpan(start: start, end: index, kind: .bool)
        case UInt8(ascii: "n"):
            try expectLiteral("null", &index)
            return JSONSpan(start: start, end: index, kind: .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try scanNumber(&index)
            return JSONSpan(start: start, end: index, kind: .number)
        default:
            throw JSONSyntaxError(offset: index, reason: "unexpected character")
        }
    }

    private func scanString(_ index: inout Int) throws(JSONSyntaxError) {
        index += 1  // opening quote
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return
            }
            if byte < 0x20 { throw JSONSyntaxError(offset: index, reason: "control character in string") }
            if byte == UInt8(ascii: "\\") {
                index += 1
                guard index < bytes.count else { break }
                switch bytes[index] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                    UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    index += 1
                case UInt8(ascii: "u"):
                    try scanUnicodeEscape(&index)
                default:
                    throw JSONSyntaxError(offset: index, reason: "bad escape")
                }
                continue
            }
            if byte >= 0x80 {
                try scanUTF8Sequence(&index)
                continue
            }
            index += 1
        }
        throw JSONSyntaxError(offset: index, reason: "unterminated string")
    }

    /// `index` at the `u` of `\uXXXX`: four hex digits, and a surrogate only as
    /// a high one followed at once by a low one.
    private func scanUnicodeEscape(_ index: inout Int) throws(JSONSyntaxError) {
        guard let unit = Self.hexQuad(bytes, at: index + 1) else { throw JSONSyntaxError(offset: index, reason: "bad unicode escape") }
        index += 5
        switch unit {
        case 0xD800...0xDBFF:
            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u"),
                let low = Self.hexQuad(bytes, at: index + 2), (0xDC00...0xDFFF).contains(low)
            else { throw JSONSyntaxError(offset: index, reason: "unpaired surrogate escape") }
            index += 6
        case 0xDC00...0xDFFF:
            throw JSONSyntaxError(offset: index - 5, reason: "unpaired surrogate escape")
        default:
            break
        }
    }

    /// The value of four hex digits at `start` in `buffer`, nil when they are not.
    static func hexQuad(_ buffer: UnsafeRawBufferPointer, at start: Int) -> UInt32? {
        guard start >= 0, start + 4 <= buffer.count else { return nil }
        var value: UInt32 = 0
        for offset in 0..<4 {
            guard let digit = hexValue(buffer[start + offset]) else { return nil }
            value = value << 4 | digit
        }
        return value
    }

    /// One multi-byte UTF-8 sequence starting at `index`, well formed as the
    /// Unicode standard's table 3-7 says: no overlong forms, no surrogates,
    /// nothing above U+10FFFF, no stray or missing continuation bytes.
    private func scanUTF8Sequence(_ index: inout Int) throws(JSONSyntaxError) {
        let lead = bytes[index]
        let length: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0:
            length = 3
            secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED:
            length = 3
            secondRange = 0x80...0x9F
        case 0xF0:
            length = 4
            secondRange = 0x90...0xBF
        case 0xF1...0xF3: length = 4
        case 0xF4:
            length = 4
            secondRange = 0x80...0x8F
        default: throw JSONSyntaxError(offset: index, reason: "invalid UTF-8")
        }
        guard index + length <= bytes.count, secondRange.contains(bytes[index + 1]) else {
            throw JSONSyntaxError(offset: index, reason: "invalid UTF-8")
        }
        for offset in 2..<length where !(0x80...0xBF).contains(bytes[index + offset]) {
            throw JSONSyntaxError(offset: index + offset, reason: "invalid UTF-8")
        }
        index += length
    }

    private func scanNumber(_ index: inout Int) throws(JSONSyntaxError) {
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, Self.isDigit(bytes[index]) else {
            throw JSONSyntaxError(offset: index, reason: "bad number")
        }
        if bytes[index] == UInt8(ascii: "0") { index += 1 } else { skipDigits(&index) }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < bytes.count, Self.isDigit(bytes[index]) else { throw JSONSyntaxError(offset: index, reason: "bad number") }
            skipDigits(&index)
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, Self.isDigit(bytes[index]) else { throw JSONSyntaxError(offset: index, reason: "bad number") }
            skipDigits(&index)
        }
    }

    private func skipDigits(_ index: inout Int) {
        while index < bytes.count, Self.isDigit(bytes[index]) { index += 1 }
    }

    private func expectLiteral(_ literal: StaticString, _ index: inout Int) throws(JSONSyntaxError) {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw JSONSyntaxError(offset: index, reason: "unexpected end of input") }
        let pointer = literal.utf8Start
        for offset in 0..<count where bytes[index + offset] != pointer[offset] {
            throw JSONSyntaxError(offset: index + offset, reason: "unexpected character")
        }
        index += count
    }

    func skipWhitespace(_ start: Int) -> Int {
        var index = start
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return index
            }
        }
        return index
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    static func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(byte - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }
}
