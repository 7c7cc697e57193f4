import Foundation
import SwitchboardCore

/// What a downstream key may do and spend. Absent fields mean "no limit" or
/// "everything allowed". Stored as one JSON document beside the key.
public struct KeyPolicy: Sendable, Equatable, Codable {
    /// Free text for admins.
    public var description: String?
    public var tags: [String]?
    /// The key's owner.
    public var user: String?
    /// `disable` (default) or `delete`, when the key expires.
    public var onExpiry: String?
    /// Days of validity counted from the key's first request (its expiry is set then).
    public var activateOnFirstUseDays: Int?
    /// Upstream providers the key may reach.
    public var providers: [Provider]?
    /// Model name globs the key may ask for (`claude-*`).
    public var models: [String]?
    /// User-Agent globs the key may be used from (`claude-cli/*`).
    public var clients: [String]?
    /// Requests, tokens and cost per rolling window.
    public var rateLimit: RateLimit?
    /// Requests in flight at once.
    public var concurrency: Int?
    /// Requests that may queue for a concurrency slot.
    public var maxWaiting: Int?
    /// Lifetime tokens.
    public var tokenLimit: Int64?
    /// Cost per UTC day, in picodollars.
    public var dailyCostPicos: Int64?
    /// The key's own prepaid balance, in picodollars; spending draws it down.
    public var balancePicos: Int64?

    /// A rolling window's caps.
    public struct RateLimit: Sendable, Equatable, Codable {
        public var windowMinutes: Int
        public var requests: Int?
        public var tokens: Int64?
        public var costPicos: Int64?

        public init(windowMinutes: Int = 1, requests: Int? = nil, tokens: Int64? = nil, costPicos: Int64? = nil) {
            self.windowMinutes = windowMinutes
            self.requests = requests
            self.tokens = tokens
            self.costPicos = costPicos
        }

        /// The window's length.
        public var window: TimeInterval { TimeInterval(windowMinutes) * 60 }
    }

    /// No limits.
    public init() {}

    /// Whether the policy lets a request for `model` through accounts of `provider`.
    public func allows(model: String) -> Bool {
        models.map { $0.contains { Glob.matches($0, model) } } ?? true
    }

    /// Whether the policy allows a provider.
    public func allows(provider: Provider) -> Bool { providers?.contains(provider) ?? true }

    /// Whether the policy allows a client, by its User-Agent.
    public func allows(userAgent: String?) -> Bool {
        guard let clients else { return true }
        guard let userAgent else { return false }
        return clients.contains { Glob.matches($0, userAgent) }
    }

    /// Whether anything is metered in money: then requests hold their maximum cost.
    public var meters: Bool { balancePicos != nil || dailyCostPicos != nil || rateLimit?.costPicos != nil }
}

/// Shell-style globs: `*` any run of characters, `?` one character.
public enum Glob {
    /// Whether `text` matches `pattern` as a whole.
    public static func matches(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern.utf8)
        let t = Array(text.utf8)
        var pi = 0
        var ti = 0
        var star = -1
        var mark = 0
        while ti < t.count {
            if pi < p.count, p[pi] == UInt8(ascii: "?") || p[pi] == t[ti] {
                pi += 1
                ti += 1
            } else if pi < p.count, p[pi] == UInt8(ascii: "*") {
                star = pi
                mark = ti
                pi += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                ti = mark
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.count
    }
}
