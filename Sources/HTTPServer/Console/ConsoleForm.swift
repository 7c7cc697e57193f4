import Foundation
import SwitchboardCore

/// A posted HTML form (`application/x-www-form-urlencoded`), read with
/// bounds: at most `maxFields` fields, each name and value percent-decoded;
/// a later field of the same name wins.
struct ConsoleForm: Sendable {
    static let maxFields = 64
    private(set) var fields: [String: String] = [:]

    init(fields: [String: String]) { self.fields = fields }

    /// Reads a body; nil when it is not a form (bad escapes, too many fields).
    init?(body: String) {
        for pair in body.split(separator: "&", omittingEmptySubsequences: true) {
            guard fields.count < Self.maxFields else { return nil }
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = Self.decode(parts[0]), let value = Self.decode(parts.count > 1 ? parts[1] : "") else { return nil }
            fields[name] = value
        }
    }

    /// `+` is a space; `%XX` a byte; the bytes must be UTF-8.
    static func decode(_ text: Substring) -> String? {
        String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    subscript(_ name: String) -> String? { fields[name] }

    /// A field's text with surrounding spaces removed; nil when absent or empty.
    func text(_ name: String) -> String? {
        guard let value = fields[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else { return nil }
        return value
    }

    /// `amount_usd`: positive dollars, as the admin API reads it.
    func amount() throws -> Money {
        try AdminRoutes.amount(["amount_usd": text("amount_usd").map(JSONValue.string) ?? .null])
    }

    /// The JSON settings a form's fields stand for, with the admin API's names:
    /// `lists` are comma-separated, `numbers` whole numbers, `money` dollars
    /// as text, the rest text. An empty field is left out when creating and
    /// means "remove this limit" (`null`) when editing; a field not on the
    /// form is never touched.
    func settings(
        texts: [String] = [], lists: [String] = [], numbers: [String] = [], money: [String] = [], documents: [String] = [], editing: Bool
    ) -> [String: JSONValue] {
        var json: [String: JSONValue] = [:]
        func put(_ name: String, _ value: (String) -> JSONValue) {
            guard fields[name] != nil else { return }
            if let text = text(name) {
                json[name] = value(text)
            } else if editing {
                json[name] = .null
            }
        }
        for name in texts { put(name) { .string($0) } }
        for name in money { put(name) { .string($0) } }
        for name in lists {
            put(name) { .array($0.split(separator: ",").map { .string($0.trimmingCharacters(in: .whitespaces)) }.filter { $0 != .string("") }) }
        }
        // A value that is not a number goes on as text, so the admin
        // operation refuses it with its own message.
        for name in numbers { put(name) { text in Double(text).map(JSONValue.number) ?? .string(text) } }
        // A JSON object (model budgets, multipliers per model); anything else goes on as text, to be refused by name.
        for name in documents { put(name) { text in JSONValue.object(from: Data(text.utf8)).map(JSONValue.object) ?? .string(text) } }
        return json
    }
}
