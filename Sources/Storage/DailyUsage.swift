import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A day's usage of one model, as a provider's export or the ledger counts it.
public struct DailyUsage: Sendable, Equatable {
    /// `2026-12-01` (UTC).
    public var day: String
    public var model: String
    public var requests: Int64?
    /// Input tokens not read from the cache.
    public var input: Int64 = 0
    public var cacheRead: Int64 = 0
    public var cacheWrite: Int64 = 0
    public var output: Int64 = 0
    /// What it cost at list price; nil when the export says nothing of cost.
    public var cost: Money?

    public init(day: String, model: String) {
        self.day = day
        self.model = model
    }

    /// Every token counted.
    public var tokens: Int64 { input.saturatingAdd(cacheRead).saturatingAdd(cacheWrite).saturatingAdd(output) }

    /// Both added up (same day and model).
    public mutating func add(_ other: DailyUsage) {
        if let more = other.requests { requests = (requests ?? 0).saturatingAdd(more) }
        input = input.saturatingAdd(other.input)
        cacheRead = cacheRead.saturatingAdd(other.cacheRead)
        cacheWrite = cacheWrite.saturatingAdd(other.cacheWrite)
        output = output.saturatingAdd(other.output)
        if let more = other.cost { cost = (cost ?? .zero) + more }
    }

    /// A model's family name: a dated snapshot (`gpt-4o-2024-08-06`,
    /// `claude-sonnet-4-5-20250929`) is matched to the name it was asked by.
    public static func family(_ model: String) -> String {
        if let match = model.firstMatch(of: /^(.+?)-(\d{8}|\d{4}-\d{2}-\d{2})$/) { return String(match.1) }
        return model
    }
}
