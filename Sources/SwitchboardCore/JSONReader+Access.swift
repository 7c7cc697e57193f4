/// One member of a JSON object: its decoded name and where its value sits.
public struct JSONMember: Sendable {
    /// The member's name, unescaped.
    public var name: String
    /// Where the name's quoted text sits.
    public var nameSpan: JSONSpan
    /// Where the value sits.
    public var value: JSONSpan
}

extension JSONReader {
    /// The members of an object, in document order. The span must come from this
    /// reader's validation; anything else yields an empty list.
    public func members(of object: JSONSpan) -> [JSONMember] {
        var result: [JSONMember] = []
        forEachMember(of: object) { nameSpan, value in
            result.append(JSONMember(name: string(nameSpan) ?? "", nameSpan: nameSpan, value: value))
        }
        return result
    }

    /// Calls `body` with each member's name span and value span, in document
    /// order, building nothing (looking one member up is done on every request).
    public func forEachMember(of object: JSONSpan, _ body: (_ name: JSONSpan, _ value: JSONSpan) -> Void) {
        guard object.kind == .object else { return }
        var index = skipWhitespace(object.start + 1)
        while index < object.end, bytes[index] == UInt8(ascii: "\"") {
            guard let nameSpan = try? scanValue(&index, depth: 0) else { return }
            index = skipWhitespace(index)
            index = skipWhitespace(index + 1)  // ':'
            guard let value = try? scanValue(&index, depth: 0) else { return }
            body(nameSpan, value)
            index = skipWhitespace(index)
            if index < object.end, bytes[index] == UInt8(ascii: ",") { index = skipWhitespace(index + 1) }
        }
    }

    /// The value of the named member, or nil. Where a name repeats, the last one
    /// wins, as in the parsers upstream providers use.
    public func member(_ name: String, of object: JSONSpan) -> JSONSpan? {
        var found: JSONSpan?
        forEachMember(of: object) { nameSpan, value in
            if string(nameSpan, is: name) { found = value }
        }
        return found
    }

    /// Whether a string value's decoded text is `text`, code point for code
    /// point (as JSON parsers compare names; no Unicode normalisation), without
    /// making a string unless the value holds an escape.
    public func string(_ span: JSONSpan, is text: String) -> Bool {
        guard span.kind == .string else { return false }
        let inner = UnsafeRawBufferPointer(rebasing: bytes[(span.start + 1)..<(span.end - 1)])
        if inner.contains(UInt8(ascii: "\\")) {
            return string(span).map { $0.unicodeScalars.elementsEqual(text.unicodeScalars) } ?? false
        }
        var text = text
        return text.withUTF8 { inner.elementsEqual($0) }
    }

    /// The value at one member name, then (when given) a second inside it: the
    /// common paths, without the array `value(at:in:)` takes.
    public func value(_ name: String, _ inner: String? = nil, in root: JSONSpan) -> JSONSpan? {
        guard let outer = member(name, of: root) else { return nil }
        guard let inner else { return outer }
        return member(inner, of: outer)
    }

    /// The value at a path of member names, e.g. `["usage", "output_tokens"]`.
    public func value(at path: [String], in root: JSONSpan) -> JSONSpan? {
        var current = root
        for name in path {
            guard let next = member(name, of: current) else { return nil }
            current = next
        }
        return current
    }

    /// The elements of an array, in order.
    public func elements(of array: JSONSpan) -> [JSONSpan] {
        guard array.kind == .array else { return [] }
        var result: [JSONSpan] = []
        var index = skipWhitespace(array.start + 1)
        while index < array.end, bytes[index] != UInt8(ascii: "]") {
            guard let value = try? scanValue(&index, depth: 0) else { return result }
            result.append(value)
            index = skipWhitespace(index)
            if index < array.end, bytes[index] == UInt8(ascii: ",") { index = skipWhitespace(index + 1) }
        }
        return result
    }

    /// The decoded text of a string value; nil for other kinds.
    public func string(_ span: JSONSpan) -> String? {
        guard span.kind == .string else { return nil }
        let inner = UnsafeRawBufferPointer(rebasing: bytes[(span.start + 1)..<(span.end - 1)])
        guard inner.contains(UInt8(ascii: "\\")) else { return String(decoding: inner, as: UTF8.self) }
        var scalars = String.UnicodeScalarView()
        var utf8: [UInt8] = []
        func flush() {
            if !utf8.isEmpty {
                scalars.append(contentsOf: String(decoding: utf8, as: UTF8.self).unicodeScalars)
                utf8.removeAll(keepingCapacity: true)
            }
        }
        var index = 0
        while index < inner.count {
            let byte = inner[index]
            guard byte == UInt8(ascii: "\\"), index + 1 < inner.count else {
                utf8.append(byte)
                index += 1
                continue
            }
            let escape = inner[index + 1]
            index += 2
            switch escape {
            case UInt8(ascii: "b"): utf8.append(0x08)
            case UInt8(ascii: "f"): utf8.append(0x0C)
            case UInt8(ascii: "n"): utf8.append(0x0A)
            case UInt8(ascii: "r"): utf8.append(0x0D)
            case UInt8(ascii: "t"): utf8.append(0x09)
            case UInt8(ascii: "u"):
                guard let high = Self.hexQuad(inner, at: index) else { return nil }
                index += 4
                var code = high
                if (0xD800..<0xDC00).contains(high), index + 5 < inner.count,
                    inner[index] == UInt8(ascii: "\\"), inner[index + 1] == UInt8(ascii: "u"),
                    let low = Self.hexQuad(inner, at: index + 2), (0xDC00..<0xE000).contains(low)
                {
                    code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                    index += 6
                }
                flush()
                scalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
            default: utf8.append(escape)
            }
        }
        flush()
        return String(scalars)
    }

    /// The value of an integral number; nil for other kinds, fractions and overflow.
    public func int64(_ span: JSONSpan) -> Int64? {
        guard span.kind == .number else { return nil }
        return Int64(text(span))
    }

    /// A count as an upstream may write it (`12`, `12.0`, `1e15`, `-3`),
    /// saturated into `Int64` instead of refused or trapped on: nil only for
    /// other kinds. Fractions are rounded down.
    public func saturatingInt64(_ span: JSONSpan) -> Int64? {
        guard span.kind == .number else { return nil }
        let written = text(span)
        if let exact = Int64(written) { return exact }
        // A long run of digits, an exponent or a fraction: go through Double,
        // whose range covers every JSON number (an overflow reads as infinity).
        guard let value = Double(written), !value.isNaN else { return nil }
        if value >= 9.2e18 { return .max }
        if value <= -9.2e18 { return .min }
        return Int64(value.rounded(.towardZero))
    }

    /// The value of `true` or `false`; nil for other kinds.
    public func bool(_ span: JSONSpan) -> Bool? {
        guard span.kind == .bool else { return nil }
        return bytes[span.start] == UInt8(ascii: "t")
    }

    /// The value's text exactly as written.
    public func text(_ span: JSONSpan) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[span.start..<span.end]), as: UTF8.self)
    }

    /// Whether an array or object has no elements.
    public func isEmptyContainer(_ span: JSONSpan) -> Bool {
        guard span.kind == .array || span.kind == .object else { return false }
        return skipWhitespace(span.start + 1) == span.end - 1
    }
}

/// Encodes a string as a JSON string literal (quotes included).
public func jsonStringLiteral(_ value: String) -> String {
    var out = "\""
    out.reserveCapacity(value.utf8.count + 2)
    for scalar in value.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case let s where s.value < 0x20:
            let hex = String(s.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        // Valid in JSON as they are, but line breaks to many readers (logs, JavaScript).
        case "\u{85}": out += "\\u0085"
        case "\u{2028}": out += "\\u2028"
        case "\u{2029}": out += "\\u2029"
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
