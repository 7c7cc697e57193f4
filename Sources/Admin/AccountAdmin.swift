import Engine
import Logging
import Policy
import Storage
import SwitchboardCore
import Upstream

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One account as admins see it: its settings (never its secret) and, where a
/// server runs, its live state.
public struct AccountView: Sendable, Encodable {
    public var name: String
    public var provider: Provider
    public var baseURL: String
    public var models: [String]
    public var modelMap: [String: String]
    public var priority: Int
    public var enabled: Bool
    public var notes: String
    public var source: String
    public var createdAt: Date
    public var maxRpm: Int?
    public var maxTpm: Int?
    public var maxConcurrency: Int?
    public var maxWaiting: Int
    public var waitTimeout: String
    public var interceptWarmup: Bool
    public var defaultInstructions: String?
    /// Its share of traffic among accounts of equal priority.
    public var weight: Int
    /// Headers added upstream, and top-level body fields set.
    public var headers: [String: String]?
    public var bodyOverrides: [String: JSONValue]?
    /// The pools it belongs to (none: shared) and the concrete models behind its globs.
    public var pools: [String]?
    public var modelList: [String]?
    /// The credential's header name, and Azure's deployment and API version.
    public var authHeader: String?
    public var deployment: String?
    public var apiVersion: String?
    /// Text in an upstream refusal that means the account is banned.
    public var banPatterns: [String]?
    /// The proxy its requests go through, or `direct`; absent: the gateway's default.
    public var proxy: String?
    /// `ok`, or why the secret does not open under the current master key.
    public var secret: String
    /// The live state, when known.
    public var live: AccountStatus?
    /// When the live state was read (now, in the server; when it was saved, in the CLI).
    public var liveAt: Date?
}

/// The one JSON form of admin answers, for the admin API and the CLI alike:
/// snake_case names, ISO 8601 times, sorted keys.
public enum AdminJSON {
    /// Encodes an admin answer.
    public static func encode(_ value: some Encodable, pretty: Bool = false) throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys] : [.sortedKeys]
        return try encoder.encode(value)
    }
}

/// Admin operations on accounts, shared by the admin API (inside the server,
/// where changes take effect at once) and the CLI (another process, where the
/// server picks them up within a second).
public struct AccountAdmin: Sendable {
    let store: any GatewayStore
    let box: SecretKeyring
    /// The running engine, when inside the server.
    let gateway: Gateway?
    let refresher: SnapshotRefresher?
    /// Where changes made here are recorded as coming from (`admin_api`, `cli`).
    let source: String
    /// Where accounts may send their secrets.
    let upstreams: UpstreamPolicy

    /// Operations on a store; with the gateway and refresher inside the server.
    public init(
        store: any GatewayStore, box: SecretKeyring, gateway: Gateway? = nil, refresher: SnapshotRefresher? = nil, source: String,
        upstreams: UpstreamPolicy
    ) {
        self.store = store
        self.box = box
        self.gateway = gateway
        self.refresher = refresher
        self.source = source
        self.upstreams = upstreams
    }

    /// Refuses a base URL the upstream policy does not allow (its form, or the
    /// addresses its host reaches), in words for an admin.
    func checkBaseURL(_ baseURL: String) async throws(AdminError) {
        do {
            try await upstreams.checkResolving(baseURL: baseURL)
        } catch {
            throw AdminError(.invalid, error.description)
        }
    }

    /// Refuses a proxy whose address the upstream policy refuses (it sees every request sent through it).
    func checkProxy(_ proxy: String?) async throws(AdminError) {
        guard let proxy, let parsed = UpstreamProxy.parse(proxy) else { return }
        do {
            try await upstreams.checkResolving(proxy: parsed)
        } catch {
            throw AdminError(.invalid, error.description)
        }
    }

    /// Every account with its state.
    public func list() async throws -> [AccountView] {
        let records = try await store.listAccounts()
        let live: [Int64: (AccountStatus, Date)]
        if let gateway {
            let now = gateway.pool.clock.now()
            live = Dictionary(uniqueKeysWithValues: gateway.accountStatus().map { ($0.account.id, ($0.status, now)) })
        } else {
            live = Dictionary(try await store.accountStatuses().map { ($0.status.id, ($0.status, $0.updatedAt)) }) { a, _ in a }
        }
        return records.map { view($0, live: live[$0.id]) }
    }

    /// One account.
    public func get(_ name: String) async throws -> AccountView {
        guard let found = try await list().first(where: { $0.name == name }) else { throw AdminError(.notFound, "no account named \(name)") }
        return found
    }

    /// Creates an account; the provider, API key and models are required.
    public func create(_ settings: AccountSettings) async throws -> AccountView {
        try await trail.audited("account.create", settings.name, read: { await snapshot(settings.name) }) {
            if try await record(settings.name) != nil { throw AdminError(.conflict, "an account named \(settings.name) exists") }
            let account = try settings.definition(requireSecret: true)
            try await checkBaseURL(account.baseURL)
            try await checkProxy(account.options.proxy)
            _ = try await store.upsertAccount(
                account.input(
                    secret: try box.seal(account.apiKey), proxySecret: try account.proxyPassword.map { try box.seal($0) }, source: source))
            return try await changed(settings.name)
        }
    }

    /// Changes the given settings of an account; the rest stay.
    public func update(_ settings: AccountSettings) async throws -> AccountView {
        try await trail.audited("account.update", settings.name, read: { await snapshot(settings.name) }) {
            guard let existing = try await record(settings.name) else { throw AdminError(.notFound, "no account named \(settings.name)") }
            if let baseURL = settings.baseURL, baseURL != existing.baseURL {
                // Whoever sends a secret somewhere new must know the secret: an admin
                // token alone cannot point an account's key at a host of its choosing.
                guard let apiKey = settings.apiKey, !apiKey.isEmpty else {
                    throw AdminError(.invalid, "changing base_url needs the account's api_key in the same request")
                }
                try await checkBaseURL(baseURL)
            }
            if let proxy = settings.proxy, proxy != existing.options.proxy {
                // A proxy sees what goes through it (all of it, for an http upstream): as for base_url,
                // whoever routes a secret somewhere new must know the secret.
                guard let apiKey = settings.apiKey, !apiKey.isEmpty else {
                    throw AdminError(.invalid, "changing proxy needs the account's api_key in the same request")
                }
                try await checkProxy(proxy)
            }
            let options = settings.apply(to: existing.options)
            if (settings.provider ?? existing.provider) != .azure, options.deployment != nil || options.apiVersion != nil {
                throw AdminError(.invalid, "deployment and api_version are for provider azure")
            }
            let input = AccountInput(
                name: existing.name, provider: settings.provider ?? existing.provider, baseURL: settings.baseURL ?? existing.baseURL,
                secret: try settings.apiKey.map { try box.seal($0) } ?? existing.secret, models: settings.models ?? existing.models,
                modelMap: settings.modelMap ?? existing.modelMap, priority: settings.priority ?? existing.priority,
                enabled: existing.enabled, notes: settings.notes ?? existing.notes, source: existing.source,
                limits: settings.apply(to: existing.limits), interceptWarmup: settings.interceptWarmup ?? existing.interceptWarmup,
                defaultInstructions: settings.defaultInstructions ?? existing.defaultInstructions, weight: settings.weight ?? existing.weight,
                headers: settings.headers ?? existing.headers, bodyOverrides: settings.bodyOverrides ?? existing.bodyOverrides,
                options: options,
                // A new proxy, or a new password, brings its own (or none); the same proxy written back
                // without one (as settings show it) keeps the stored one.
                proxySecret: settings.proxy == nil || (settings.proxy! == existing.options.proxy && settings.proxyPassword == nil)
                    ? existing.proxySecret : try settings.proxyPassword.map { try box.seal($0) })
            _ = try await store.upsertAccount(input)
            if let enabled = settings.enabled, enabled != existing.enabled {
                return try await setEnabled(settings.name, enabled)
            }
            return try await changed(settings.name)
        }
    }

    /// Enables (clearing any cooldown and health mark at once) or disables an account.
    public func setEnabled(_ name: String, _ enabled: Bool) async throws -> AccountView {
        try await trail.audited(enabled ? "account.enable" : "account.disable", name, read: { await snapshot(name) }) {
            guard let record = try await store.setAccountEnabled(name: name, enabled: enabled) else {
                throw AdminError(.notFound, "no account named \(name)")
            }
            if enabled { gateway?.pool.clearTrouble(accountID: record.id) }
            return try await changed(name)
        }
    }

    /// Fetches the models the upstream lists (its model endpoint) into the
    /// account's `model_list`, which `/v1/models` shows for its globs.
    public func syncModels(_ name: String, transport: any UpstreamTransport) async throws -> AccountView {
        try await trail.audited("account.sync_models", name, read: { await snapshot(name) }) {
            guard let record = try await record(name) else { throw AdminError(.notFound, "no account named \(name)") }
            let models = try await UpstreamModels.fetch(opened(record), transport: transport)
            var settings = AccountSettings(name: name)
            settings.modelList = models
            return try await update(settings)
        }
    }

    /// The stored account as the hot path would send to it, secret opened (or why not).
    private func opened(_ record: AccountRecord) -> AccountEntry {
        var entry = AccountEntry(
            id: record.id, name: record.name, provider: record.provider, baseURL: record.baseURL, secret: nil,
            models: record.models, modelMap: record.modelMap)
        entry.options = record.options
        do {
            entry.secret = try box.open(record.secret)
            entry.proxyPassword = try record.proxySecret.map { try box.open($0) }
        } catch { entry.unusableReason = "secret unavailable: \(error)" }
        return entry
    }

    /// Deletes an account; its ledger rows stay.
    public func delete(_ name: String) async throws {
        try await trail.audited("account.delete", name, read: { await snapshot(name) }) {
            guard try await store.removeAccount(name: name) else { throw AdminError(.notFound, "no account named \(name)") }
            await refresher?.refreshIfChanged()
        }
    }

    /// Sends the account one minimal request and reports what happened. Inside
    /// the server the result counts as a health probe: success clears a health
    /// mark, refused credentials set one.
    public func test(_ name: String, transport: any UpstreamTransport) async throws -> ProbeResult {
        guard let record = try await record(name) else { throw AdminError(.notFound, "no account named \(name)") }
        let entry = opened(record)
        let result = await AccountProbe.run(entry, kind: .minimalRequest, transport: transport)
        if let pool = gateway?.pool {
            if result.ok {
                pool.clearTrouble(accountID: record.id)
            } else if result.failureClass == FailureClass.credential.rawValue {
                pool.markUnhealthy(accountID: record.id, reason: result.message)
            }
        }
        return result
    }

    private func record(_ name: String) async throws -> AccountRecord? {
        try await store.listAccounts().first { $0.name == name }
    }

    /// Reloads the server's snapshot (when inside it) and returns the account.
    private func changed(_ name: String) async throws -> AccountView {
        await refresher?.refreshIfChanged()
        return try await get(name)
    }

    private func view(_ record: AccountRecord, live: (AccountStatus, Date)?) -> AccountView {
        var secretState = "ok"
        do { _ = try box.open(record.secret) } catch { secretState = "unusable: \(error)" }
        return AccountView(
            name: record.name, provider: record.provider, baseURL: record.baseURL, models: record.models,
            modelMap: record.modelMap, priority: record.priority, enabled: record.enabled, notes: record.notes,
            source: record.source, createdAt: record.createdAt, maxRpm: record.limits.maxRPM, maxTpm: record.limits.maxTPM,
            maxConcurrency: record.limits.maxConcurrency, maxWaiting: record.limits.maxWaiting,
            waitTimeout: DurationSyntax.format(record.limits.waitTimeout), interceptWarmup: record.interceptWarmup,
            defaultInstructions: record.defaultInstructions, weight: record.weight, headers: record.headers.isEmpty ? nil : record.headers,
            bodyOverrides: record.bodyOverrides.isEmpty
                ? nil : record.bodyOverrides.compactMapValues { try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) },
            pools: record.options.pools, modelList: record.options.modelList, authHeader: record.options.authHeader,
            deployment: record.options.deployment, apiVersion: record.options.apiVersion, banPatterns: record.options.banPatterns,
            proxy: record.options.proxy,
            secret: secretState, live: live?.0, liveAt: live?.1)
    }
}

extension AccountAdmin {
    var trail: AuditTrail { AuditTrail(store: store, logger: Logger(label: "switchboard")) }

    /// The account as the audit log keeps it: its settings, without the live state of the moment.
    func snapshot(_ name: String) async -> AccountView? {
        guard var view = try? await get(name) else { return nil }
        view.live = nil
        view.liveAt = nil
        return view
    }
}
