import Foundation
import SwitchboardCore

/// Reads typed values out of parsed YAML, with errors that name the path at
/// fault, and expands `${VAR}` in strings from the environment.
struct ValueReader {
    let environment: [String: String]

    func mapping(_ value: Any, at path: String) throws -> [String: Any] {
        guard let map = value as? [String: Any] else { throw ConfigurationError("\(path) must be a mapping") }
        return map
    }

    func list(_ value: Any, at path: String) throws -> [Any] {
        guard let list = value as? [Any] else { throw ConfigurationError("\(path) must be a list") }
        return list
    }

    func rejectUnknown(_ map: [String: Any], allowed: [String], at path: String) throws {
        let unknown = map.keys.filter { !allowed.contains($0) }.sorted()
        guard unknown.isEmpty else {
            throw ConfigurationError("\(path) has unknown setting(s) \(unknown.joined(separator: ", ")); known: \(allowed.joined(separator: ", "))")
        }
    }

    /// A scalar as text: strings (with `${VAR}` expanded), numbers and booleans.
    func scalarText(_ value: Any, at path: String) throws -> String {
        switch value {
        case let text as String: return try expand(text, at: path)
        case let flag as Bool: return flag ? "true" : "false"
        case let number as Int: return String(number)
        case let number as Double: return String(number)
        case let date as Date: return ISO8601DateFormatter().string(from: date)
        default: throw ConfigurationError("\(path) must be a single value")
        }
    }

    /// A mapping as JSON, for the settings types every source of settings shares:
    /// strings with `${VAR}` expanded, numbers, flags, times as RFC 3339 text.
    func jsonObject(_ value: Any, at path: String) throws -> [String: JSONValue] {
        guard case .object(let object) = try json(try mapping(value, at: path), at: path) else {
            throw ConfigurationError("\(path) must be a mapping")
        }
        return object
    }

    func json(_ value: Any, at path: String) throws -> JSONValue {
        switch value {
        case let text as String: return .string(try expand(text, at: path))
        case let flag as Bool: return .bool(flag)
        case let number as Int: return .number(Double(number))
        case let number as Double: return .number(number)
        case let date as Date: return .string(ISO8601DateFormatter().string(from: date))
        case is NSNull: return .null
        case let list as [Any]: return .array(try list.enumerated().map { try json($1, at: "\(path)[\($0)]") })
        case let map as [String: Any]:
            var object: [String: JSONValue] = [:]
            for (key, item) in map { object[key] = try json(item, at: "\(path).\(key)") }
            return .object(object)
        default: throw ConfigurationError("\(path) holds a value that is not text, a number, a flag, a list or a mapping")
        }
    }

    func requiredText(_ map: [String: Any], _ key: String, at path: String) throws -> String {
        guard let value = map[key] else { throw ConfigurationError("\(path).\(key) is required") }
        let text = try scalarText(value, at: "\(path).\(key)")
        guard !text.isEmpty else { throw ConfigurationError("\(path).\(key) must not be empty") }
        return text
    }

    /// A record's `name`, held to the one rule for names (`RecordName`).
    func name(_ map: [String: Any], at path: String) throws -> String {
        let name = try requiredText(map, "name", at: path)
        if let problem = RecordName.problem(name) { throw ConfigurationError("\(path).name: \(problem)") }
        return name
    }

    func textList(_ value: Any, at path: String) throws -> [String] {
        try list(value, at: path).enumerated().map { try scalarText($1, at: "\(path)[\($0)]") }
    }

    func bool(_ value: Any, at path: String) throws -> Bool {
        if let flag = value as? Bool { return flag }
        switch try scalarText(value, at: path).lowercased() {
        case "true", "yes", "1": return true
        case "false", "no", "0": return false
        default: throw ConfigurationError("\(path) must be true or false")
        }
    }

    /// An optional amount of US dollars under `name`, exactly.
    func dollars(_ map: [String: Any], _ name: String, at path: String) throws -> Money? {
        guard let value = map[name] else { return nil }
        guard let money = Money(dollars: try scalarText(value, at: "\(path).\(name)")), money >= .zero else {
            throw ConfigurationError("\(path).\(name) must be an amount of dollars from 0 to \(Money.max.dollarsString), such as 2 or 0.50")
        }
        return money
    }

    /// Replaces `${NAME}` with the environment's value; a missing variable is an error.
    func expand(_ text: String, at path: String) throws -> String {
        guard text.contains("${") else { return text }
        var result = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            result += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                throw ConfigurationError("\(path) has an unclosed ${")
            }
            let name = String(rest[start.upperBound..<end])
            guard let value = environment[name] else {
                throw ConfigurationError("\(path) refers to ${\(name)}, which is not set in the environment")
            }
            result += value
            rest = rest[rest.index(after: end)...]
        }
        return result + rest
    }
}

/// Sizes written as bytes (`33554432`) or with a unit (`32MiB`, `512KiB`, `1GiB`, `10MB`).
enum ByteSize {
    static func parse(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Int)] = [
            ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("GB", 1_000_000_000), ("MB", 1_000_000),
            ("KB", 1000), ("B", 1),
        ]
        for (suffix, factor) in units where trimmed.hasSuffix(suffix) {
            guard let number = Int(trimmed.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)),
                number >= 0, number <= (1 << 40) / factor
            else { return nil }
            return number * factor
        }
        guard let bytes = Int(trimmed), bytes <= 1 << 40 else { return nil }
        return bytes
    }
}

/// Durations written as seconds (`30`) or with a unit (`500ms`, `10s`, `5m`, `1h`, `7d`).

/// Durations in settings: `30` (seconds), `500ms`, `10s`, `5m`, `1h`, `7d`.
enum DurationText {
    /// Parses a duration; `source` names the setting in the error.
    static func parse(_ text: String, source: String) throws -> Duration {
        guard let duration = DurationSyntax.parse(text) else {
            throw ConfigurationError("\(source) must be a duration such as 30, 500ms, 10s, 5m, 1h or 7d (at most a year)")
        }
        return duration
    }
}
