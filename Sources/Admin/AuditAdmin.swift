import Engine
import Storage
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One audit entry as the admin API and console show it: the record before and
/// after as JSON objects (absent where it did not exist).
public struct AuditView: Sendable, Encodable {
    public var id: Int64
    public var time: Date
    public var who: String
    public var source: String
    public var address: String?
    public var action: String
    public var target: String
    public var before: JSONValue?
    public var after: JSONValue?

    init(_ entry: AuditEntry) {
        id = entry.id
        time = entry.createdAt
        who = entry.who
        source = entry.source
        address = entry.address
        action = entry.action
        target = entry.target
        before = entry.before.flatMap { try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
        after = entry.after.flatMap { try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
    }
}

/// A page of the audit log.
public struct AuditLogPage: Sendable, Encodable {
    public var entries: [AuditView]
    /// Pass as `cursor` for the next page; absent on the last one.
    public var nextCursor: String?
}

/// The audit log's reading side, shared by the admin API and the console.
public struct AuditAdmin: Sendable {
    let store: any GatewayStore

    public init(store: any GatewayStore) { self.store = store }

    /// Entries matching `query`, newest first.
    public func list(_ query: AuditQuery) async throws -> AuditLogPage {
        let page = try await store.auditPage(query)
        return AuditLogPage(entries: page.entries.map(AuditView.init), nextCursor: page.next.map(String.init))
    }

    /// Reads the filters: `from`, `to`, `action` (`key.update`, or a kind such
    /// as `key`), `target` (a record's name), `source` (`api`, `console`, `cli`),
    /// `cursor`, `limit` (1…1000, default 100).
    public static func query(_ parameters: [String: String]) throws(AdminError) -> AuditQuery {
        let read = QueryParameters(parameters)
        var query = AuditQuery(
            from: try read.time("from"), to: try read.time("to"), action: try read.text("action"), target: try read.text("target"),
            source: try read.text("source"))
        query.before = try read.whole("cursor", in: 1...Int64.max)
        query.limit = Int(try read.whole("limit", in: 1...1000) ?? 100)
        return query
    }
}
