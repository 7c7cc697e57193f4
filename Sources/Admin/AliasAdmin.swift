import Engine
import Foundation
import Logging
import Policy
import Storage
import SwitchboardCore

/// A model alias as admins see it.
public struct AliasView: Sendable, Encodable, Equatable {
    public var name: String
    public var targets: [Target]
    public var maxFailovers: Int?

    public struct Target: Sendable, Encodable, Equatable {
        public var model: String
        public var weight: Int?
    }

    init(_ alias: ModelAlias) {
        name = alias.name
        targets = alias.targets.map { Target(model: $0.model, weight: $0.weight) }
        maxFailovers = alias.maxFailovers
    }
}

/// Admin operations on model aliases (`models:`), shared by the admin API and the CLI.
public struct AliasAdmin: Sendable {
    let store: any GatewayStore
    let refresher: SnapshotRefresher?

    public init(store: any GatewayStore, refresher: SnapshotRefresher? = nil) {
        self.store = store
        self.refresher = refresher
    }

    var trail: AuditTrail { AuditTrail(store: store, logger: Logger(label: "switchboard")) }

    /// Every alias, by name.
    public func list() async throws -> [AliasView] { try await store.listAliases().map(AliasView.init) }

    /// Creates or replaces an alias from its settings (`targets`, `max_failovers`).
    public func set(_ name: String, _ json: [String: JSONValue]) async throws -> AliasView {
        try await trail.audited("model_alias.set", name, read: { await view(name) }) {
            let alias = try AliasSettings.alias(name, .object(json))
            try await store.upsertAlias(alias, source: "api")
            await refresher?.refreshIfChanged()
            guard let saved = await view(name) else { throw AdminError(.notFound, "no alias named \(name)") }
            return saved
        }
    }

    /// Deletes an alias; requests for its name then find no model (unless an account lists one by that name).
    public func delete(_ name: String) async throws {
        try await trail.audited("model_alias.delete", name, read: { await view(name) }) {
            guard try await store.deleteAlias(name: name) else { throw AdminError(.notFound, "no alias named \(name)") }
            await refresher?.refreshIfChanged()
        }
    }

    private func view(_ name: String) async -> AliasView? { try? await list().first { $0.name == name } }
}
