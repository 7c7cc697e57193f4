import Engine
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Reads an admin listing's query parameters. A value that does not read is
/// refused, never ignored: a filter silently dropped would show records the
/// admin asked to exclude.
struct QueryParameters {
    let parameters: [String: String]

    init(_ parameters: [String: String]) { self.parameters = parameters }

    /// Text of at most 256 bytes; nil when absent or empty.
    func text(_ name: String) throws(AdminError) -> String? {
        guard let value = parameters[name], !value.isEmpty else { return nil }
        guard value.utf8.count <= 256 else { throw AdminError(.invalid, "\(name) is longer than 256 bytes") }
        return value
    }

    /// A whole timestamp, what a browser's date (`2026-12-05`) and
    /// datetime-local (`2026-12-05T10:00`) inputs send (read as UTC), or Unix seconds.
    func time(_ name: String) throws(AdminError) -> Date? {
        guard let value = try text(name) else { return nil }
        let completed = value.count == 10 ? value + "T00:00:00Z" : value.count == 16 ? value + ":00Z" : value
        if let date = WireDate.rfc3339(completed) { return date }
        if let seconds = Int64(value), (0...253_402_300_799).contains(seconds) { return Date(timeIntervalSince1970: TimeInterval(seconds)) }
        throw AdminError(.invalid, "\(name) must be an ISO 8601 time (2026-12-05T10:00:00Z) or Unix seconds")
    }

    /// A whole number within `range`.
    func whole(_ name: String, in range: ClosedRange<Int64>) throws(AdminError) -> Int64? {
        guard let value = try text(name) else { return nil }
        guard let number = Int64(value), range.contains(number) else {
            throw AdminError(.invalid, "\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }
}
