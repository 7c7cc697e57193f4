import Crypto
import Foundation
import Logging
import Storage

/// Who is acting: set for the length of an admin API request or a console
/// page (a task-local value, so the operations need no extra parameter), and
/// the command line's user otherwise.
public struct AuditActor: Sendable, Equatable {
    public var who: String
    public var source: String
    public var address: String?

    public init(who: String, source: String, address: String? = nil) {
        self.who = who
        self.source = source
        self.address = address
    }

    /// The actor of the admin request being served, if any.
    @TaskLocal public static var current: AuditActor?

    /// Whoever runs the command line.
    public static var commandLine: AuditActor {
        let user = ProcessInfo.processInfo.environment["USER"].flatMap { $0.isEmpty ? nil : String($0.prefix(64)) } ?? "unknown"
        return AuditActor(who: "cli:" + user, source: "cli")
    }

    /// The admin token's name in the log: a short fingerprint that tells one
    /// token from the next without saying anything usable about it.
    public static func tokenID(_ token: String) -> String {
        "admin_token:" + SHA256.hash(data: Data(token.utf8)).prefix(4).map { String(format: "%02x", $0) }.joined()
    }
}

/// Writes admin actions to the audit log: the record before and after, as the
/// admin API shows it (views never hold a secret). A log entry that cannot be
/// written does not undo the action that happened; it is logged as an error.
public struct AuditTrail: Sendable {
    let store: any GatewayStore
    let logger: Logger

    public init(store: any GatewayStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    /// Records `action` on `target`.
    public func record(_ action: String, _ target: String, before: (any Encodable)?, after: (any Encodable)?) async {
        let actor = AuditActor.current ?? .commandLine
        let entry = AuditEntry(
            createdAt: Date(), who: actor.who, source: actor.source, address: actor.address, action: action, target: target,
            before: before.flatMap { Self.json($0) }, after: after.flatMap { Self.json($0) })
        do {
            try await store.appendAudit(entry)
        } catch {
            logger.error(
                "an admin action could not be written to the audit log",
                metadata: ["action": "\(action)", "target": "\(target)", "error": "\(error)"])
        }
    }

    /// Performs `change` and records it, with the record as `read` finds it
    /// before and after (nil where there is none). A change that fails is not recorded.
    public func audited<T: Sendable>(
        _ action: String, _ target: String, read: () async -> (any Encodable)?, _ change: () async throws -> T
    ) async throws -> T {
        let before = await read()
        let result = try await change()
        await record(action, target, before: before, after: await read())
        return result
    }

    static func json(_ value: any Encodable) -> String? {
        (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) }
    }
}
