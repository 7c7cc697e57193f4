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

/// A provider's settings as admins see them.
public struct ProviderView: Sendable, Encodable, Equatable {
    public var provider: String
    /// Failovers one request may make within this provider's accounts; nil: no cap of its own.
    public var maxFailovers: Int?

    init(_ setting: ProviderSetting) {
        provider = setting.provider.rawValue
        maxFailovers = setting.maxFailovers
    }
}

/// Admin operations on routing settings — model aliases (`models:`) and
/// providers' settings (`providers:`) — shared by the admin API, the console and the CLI.
public struct RoutingAdmin: Sendable {
    let store: any GatewayStore
    let refresher: SnapshotRefresher?

    public init(store: any GatewayStore, refresher: SnapshotRefresher? = nil) {
        self.store = store
        self.refresher = refresher
    }

    var trail: AuditTrail { AuditTrail(store: store, logger: Logger(label: "switchboard")) }

    /// Every alias, by name.
    public func aliases() async throws -> [AliasView] { try await store.listAliases().map(AliasView.init) }

    /// Creates or replaces an alias from its settings (`targets`, `max_failovers`).
    public func setAlias(_ name: String, _ json: [String: JSONValue]) async throws -> AliasView {
        try await trail.audited("model_alias.set", name, read: { await aliasView(name) }) {
            let alias = try AliasSettings.alias(name, .object(json))
            try await store.upsertAlias(alias, source: "api")
            await refresher?.refreshIfChanged()
            guard let saved = await aliasView(name) else { throw AdminError(.notFound, "no alias named \(name)") }
            return saved
        }
    }

    /// Deletes an alias; requests for its name then find no model (unless an account lists one by that name).
    public func deleteAlias(_ name: String) async throws {
        try await trail.audited("model_alias.delete", name, read: { await aliasView(name) }) {
            guard try await store.deleteAlias(name: name) else { throw AdminError(.notFound, "no alias named \(name)") }
            await refresher?.refreshIfChanged()
        }
    }

    private func aliasView(_ name: String) async -> AliasView? { try? await aliases().first { $0.name == name } }

    /// Every provider, with its settings (none stored: no cap).
    public func providers() async throws -> [ProviderView] {
        let stored = try await store.listProviderSettings()
        return Provider.allCases.map { provider in ProviderView(stored.first { $0.provider == provider } ?? ProviderSetting(provider: provider)) }
    }

    /// Sets a provider's settings (`max_failovers`; null removes the cap).
    public func setProvider(_ name: String, _ json: [String: JSONValue]) async throws -> ProviderView {
        try await trail.audited("provider.set", name, read: { await providerView(name) }) {
            let setting = try ProviderSettings.setting(name, .object(json))
            try await store.upsertProviderSetting(setting, source: "api")
            await refresher?.refreshIfChanged()
            return ProviderView(setting)
        }
    }

    /// Forgets a provider's settings: its accounts are capped only by the gateway's `max_failovers`.
    public func deleteProvider(_ name: String) async throws {
        try await trail.audited("provider.delete", name, read: { await providerView(name) }) {
            guard let provider = Provider(rawValue: name), try await store.deleteProviderSetting(provider, source: nil) else {
                throw AdminError(.notFound, "no settings stored for provider \(jsonStringLiteral(String(name.prefix(40))))")
            }
            await refresher?.refreshIfChanged()
        }
    }

    private func providerView(_ name: String) async -> ProviderView? { try? await providers().first { $0.provider == name } }
}
