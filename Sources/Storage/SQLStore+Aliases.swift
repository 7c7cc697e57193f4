import NIOCore
import Policy
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension SQLStore {
    public func listAliases() async throws -> [ModelAlias] {
        try await query("SELECT name, targets, max_failovers FROM model_aliases ORDER BY name").compactMap { row in
            guard let name = row.text("name") else { return nil }
            // A record that cannot be read serves nothing rather than something unintended.
            let targets = (try? Self.decoded([ModelAlias.Target].self, row.text("targets"), what: "its targets")) ?? []
            let failovers = (try? row.integer("max_failovers")).flatMap { (0...100).contains($0) ? Int($0) : nil }
            return ModelAlias(name: name, targets: targets, maxFailovers: failovers)
        }
    }

    public func upsertAlias(_ alias: ModelAlias, source: String) async throws {
        let binds: [SQLValue] = [.text(try Self.encoded(alias.targets)), alias.maxFailovers.map { .integer($0) } ?? .null, .text(source)]
        _ = try await execute(
            """
            INSERT INTO model_aliases (targets, max_failovers, source, name, created_at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT(name) DO UPDATE SET targets = excluded.targets, max_failovers = excluded.max_failovers, source = excluded.source
            """, binds + [.text(alias.name), .integer(Int(Date().millisecondsSince1970))])
    }

    public func deleteAlias(name: String) async throws -> Bool { try await deleteNamed(name, from: "model_aliases") }
}

extension SQLStore {
    public func listProviderSettings() async throws -> [ProviderSetting] {
        try await query("SELECT name, max_failovers FROM provider_settings ORDER BY name").compactMap { row in
            // A provider this version does not know, or a value out of range, caps nothing.
            guard let provider = row.text("name").flatMap(Provider.init(rawValue:)) else { return nil }
            let failovers = (try? row.integer("max_failovers")).flatMap { (0...100).contains($0) ? Int($0) : nil }
            return ProviderSetting(provider: provider, maxFailovers: failovers)
        }
    }

    public func upsertProviderSetting(_ setting: ProviderSetting, source: String) async throws {
        _ = try await execute(
            """
            INSERT INTO provider_settings (max_failovers, source, name, created_at) VALUES (?, ?, ?, ?)
            ON CONFLICT(name) DO UPDATE SET max_failovers = excluded.max_failovers, source = excluded.source
            """,
            [
                setting.maxFailovers.map { .integer($0) } ?? .null, .text(source), .text(setting.provider.rawValue),
                .integer(Int(Date().millisecondsSince1970)),
            ])
    }

    public func deleteProviderSetting(_ provider: Provider, source: String?) async throws -> Bool {
        guard let source else { return try await deleteNamed(provider.rawValue, from: "provider_settings") }
        return try await !execute(
            "DELETE FROM provider_settings WHERE name = ? AND source = ? RETURNING id", [.text(provider.rawValue), .text(source)]
        ).isEmpty
    }
}
