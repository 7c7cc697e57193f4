import Engine
import Logging
import Policy
import Storage
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A quarantined session or key as admins see it.
public struct QuarantineView: Sendable, Encodable, Equatable {
    public var id: Int64
    /// `session` or `key`.
    public var scope: String
    /// The session's digest (what the gateway keys sessions by, never the client's text).
    public var session: String?
    public var key: String
    /// The account the signal came from, and what the signal was.
    public var account: String
    public var signal: String
    public var requestId: String
    public var createdAt: Date

    init(_ quarantine: Quarantine) {
        id = quarantine.id
        scope = quarantine.scope.rawValue
        session = quarantine.session
        key = quarantine.keyName
        account = quarantine.account
        signal = quarantine.signal
        requestId = quarantine.requestID
        createdAt = quarantine.createdAt
    }
}

/// Admin operations on quarantines, shared by the admin API and the CLI.
public struct QuarantineAdmin: Sendable {
    let store: any GatewayStore
    let gateway: Gateway?
    let refresher: SnapshotRefresher?

    public init(store: any GatewayStore, gateway: Gateway? = nil, refresher: SnapshotRefresher? = nil) {
        self.store = store
        self.gateway = gateway
        self.refresher = refresher
    }

    var trail: AuditTrail { AuditTrail(store: store, logger: Logger(label: "switchboard")) }

    /// The quarantines in force, oldest first.
    public func list() async throws -> [QuarantineView] { try await store.activeQuarantines().map(QuarantineView.init) }

    /// Releases one: the session's (or key's) requests are served again. The
    /// account stays marked until an admin enables it or a probe clears it.
    public func release(_ id: Int64) async throws -> QuarantineView {
        let target = String(id)
        return try await trail.audited("quarantine.release", target, read: { try? await list().first { $0.id == id } }) {
            guard let found = try await list().first(where: { $0.id == id }) else { throw AdminError(.notFound, "no quarantine \(id) in force") }
            guard try await store.releaseQuarantine(id: id, at: Date()) else { throw AdminError(.notFound, "no quarantine \(id) in force") }
            gateway?.forgetQuarantine(id: id)
            await refresher?.refreshIfChanged()
            return found
        }
    }
}
