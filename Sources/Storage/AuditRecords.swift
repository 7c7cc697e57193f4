#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One admin action as the audit log keeps it: who did what to which record,
/// from where, and the record before and after (as the admin API shows it,
/// so never a secret).
public struct AuditEntry: Sendable, Equatable {
    /// Its place in the log (0 before it is stored).
    public var id: Int64
    public var createdAt: Date
    /// `admin_token:<fingerprint>` for the admin API and console, `cli:<user>` for the command line.
    public var who: String
    /// `api`, `console` or `cli`.
    public var source: String
    /// The client address, for the admin API and console.
    public var address: String?
    /// `key.create`, `account.disable`, `user.topup`, …
    public var action: String
    /// The record's name.
    public var target: String
    /// The record before and after, as JSON; nil where it did not exist.
    public var before: String?
    public var after: String?

    public init(
        id: Int64 = 0, createdAt: Date, who: String, source: String, address: String? = nil, action: String, target: String,
        before: String? = nil, after: String? = nil
    ) {
        self.id = id
        self.createdAt = createdAt
        self.who = who
        self.source = source
        self.address = address
        self.action = action
        self.target = target
        self.before = before
        self.after = after
    }
}

/// Which audit entries to list, newest first.
public struct AuditQuery: Sendable, Equatable {
    public var from: Date?
    public var to: Date?
    /// An action (`key.update`) or a kind of record (`key`).
    public var action: String?
    public var target: String?
    public var source: String?
    /// Entries older than this one (the previous page's `next`).
    public var before: Int64?
    public var limit: Int

    public init(
        from: Date? = nil, to: Date? = nil, action: String? = nil, target: String? = nil, source: String? = nil, before: Int64? = nil,
        limit: Int = 100
    ) {
        self.from = from
        self.to = to
        self.action = action
        self.target = target
        self.source = source
        self.before = before
        self.limit = limit
    }
}

/// A page of the audit log, and where the next one starts.
public struct AuditPage: Sendable, Equatable {
    public var entries: [AuditEntry]
    /// The `before` of the next page; nil on the last.
    public var next: Int64?

    public init(entries: [AuditEntry], next: Int64?) {
        self.entries = entries
        self.next = next
    }
}
