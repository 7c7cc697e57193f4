public import SwitchboardCore

/// A JSON value as a tree that keeps member order and numbers exactly as written.
///
/// Translation rebuilds bodies, so it needs a tree; order matters because a
/// tool's schema properties steer the order a model writes its arguments in,
/// and number text is kept so `0.7` stays `0.7`.
public enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    /// A number's text as written.
    case number(String)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    public static func == (lhs: JSON, rhs: JSON) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)): return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// Parses a document.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONSyntaxError) -> JSON {
        let reader = JSONReader(bytes)
        return tree(reader, try reader.validateDocument())
    }

    /// Parses a document held in a string.
    public static func parse(_ text: String) throws(JSONSyntaxError) -> JSON {
        var text = text
        let result: Result<JSON, JSONSyntaxError> = text.withUTF8 { bytes in
            Result { () throws(JSONSyntaxError) in try parse(UnsafeRawBufferPointer(bytes)) }
        }
        return try result.get()
    }

    /// The tree of a value a reader validated.
    public static func tree(_ reader: JSONReader, _ span: JSONSpan) -> JSON {
        switch span.kind {
        case .null: return .null
        case .bool: return .bool(reader.bool(span) ?? false)
        case .number: return .number(reader.text(span))
        case .string: return .string(reader.string(span) ?? "")
        case .array: return .array(reader.elements(of: span).map { tree(reader, $0) })
        case .object: return .object(reader.members(of: span).map { ($0.name, tree(reader, $0.value)) })
        }
    }

    // MARK: Reading

    /// A member of an object (the last one of that name), or nil.
    public subscript(key: String) -> JSON? {
        guard case .object(let members) = self else { return nil }
        return members.last { $0.0 == key }?.1
    }

    public var string: String? { if case .string(let value) = self { return value } else { return nil } }
    public var array: [JSON]? { if case .array(let value) = self { return value } else { return nil } }
    public var members: [(String, JSON)]? { if case .object(let value) = self { return value } else { return nil } }
    public var bool: Bool? { if case .bool(let value) = self { return value } else { return nil } }
    public var isNull: Bool { self == .null }
    /// A whole number's value.
    public var int: Int? { if case .number(let text) = self { return Int(text) } else { return nil } }
    /// A number's text as written; nil for other kinds.
    public var numberText: String? { if case .number(let text) = self { return text } else { return nil } }

    // MARK: Writing

    /// A number from an integer.
    public static func int(_ value: Int) -> JSON { .number(String(value)) }
    /// A number from a 64-bit integer.
    public static func int(_ value: Int64) -> JSON { .number(String(value)) }

    /// The compact text of the value.
    public var text: String {
        var out = ""
        write(to: &out)
        return out
    }

    func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .number(let text): out += text
        case .string(let value): out += jsonStringLiteral(value)
        case .array(let items):
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                item.write(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (index, (name, value)) in members.enumerated() {
                if index > 0 { out += "," }
                out += jsonStringLiteral(name)
                out += ":"
                value.write(to: &out)
            }
            out += "}"
        }
    }
}

/// Builds an object, leaving out members whose value is nil.
func object(_ members: [(String, JSON?)]) -> JSON {
    .object(members.compactMap { name, value in value.map { (name, $0) } })
}
