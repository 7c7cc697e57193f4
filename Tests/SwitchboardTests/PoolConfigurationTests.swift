import Admin
import Crypto
import Engine
import Foundation
import Policy
import Storage
import SwitchboardCore
import Testing
import Upstream

@testable import SwitchboardApp

/// Pool settings in the config file, and master key rotation on disk.
@Suite struct PoolConfigurationTests {
    func load(_ text: String, environment: [String: String] = [:]) throws -> Configuration {
        try loadConfiguration(text, environment: environment)
    }

    @Test func accountCapsAndPoolSettingsLoad() throws {
        let config = try load(
            """
            rate_limit_cooldown: 30s
            overload_cooldown: 2s
            session_ttl: 2h
            accounts:
              - name: a
                provider: anthropic
                api_key: k
                models: [m]
                max_rpm: 50
                max_tpm: 100000
                max_concurrency: 4
                max_waiting: 8
                wait_timeout: 15s
            """, environment: ["SWITCHBOARD_TRANSIENT_FAILURES": "5"])
        #expect(config.accounts[0].limits == AccountLimits(maxRPM: 50, maxTPM: 100_000, maxConcurrency: 4, maxWaiting: 8, waitTimeout: .seconds(15)))
        #expect(config.accounts[0].baseURL == "https://api.anthropic.com")
        #expect(config.pool.rateLimitCooldown == .seconds(30) && config.pool.overloadCooldown == .seconds(2))
        #expect(config.pool.sessionTTL == .seconds(7200) && config.pool.transientFailures == 5)
    }

    @Test func impossibleSettingsAreRefusedWithTheirName() {
        #expect(throws: ConfigurationError.self) { try load("overload_cooldown: 30s") }
        #expect(throws: ConfigurationError.self) { try load("admin_token: short") }
        #expect(throws: ConfigurationError.self) {
            try load("accounts: [{name: a, provider: openai, api_key: k, models: [m], max_concurrency: 0}]")
        }
        do {
            _ = try load("accounts: [{name: a, provider: openai, api_key: k, models: [m], max_rpm: lots}]")
            Issue.record("max_rpm: lots was accepted")
        } catch {
            #expect("\(error)".contains("accounts[0].max_rpm"))
        }
    }

    @Test func anInterruptedRotationIsFinishedAtTheNextStart() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var config = Configuration()
        config.database = "sqlite:\(directory)/switchboard.db"
        let first = try await StoreContext.open(config, logger: quietLogger())
        let admin = AccountAdmin(store: first.store, box: first.box, source: "test", upstreams: .init())
        var settings = AccountSettings(name: "acct")
        settings.provider = .openai
        settings.apiKey = "sk-upstream-secret"
        settings.models = ["m"]
        _ = try await admin.create(settings)
        // A rotation that wrote the next key and committed, then stopped before the rename.
        let next = SymmetricKey(size: .bits256)
        try MasterKeyLoader.create(directory + "/" + MasterKeyLoader.nextFileName, key: next)
        let newBox = SecretBox(masterKey: next)
        let record = try #require(try await first.store.listAccounts().first)
        let hash = try await KeyHasher.resealed(store: first.store, from: first.box.box, to: newBox)
        try await first.store.replaceSecrets(
            [record.id: try newBox.seal(try first.box.open(record.secret))], proxySecrets: [:], settings: [hash.name: hash.value])
        try await first.store.close()

        let second = try await StoreContext.open(config, logger: quietLogger())
        #expect(second.box.keyID == newBox.keyID)
        #expect(!FileManager.default.fileExists(atPath: directory + "/" + MasterKeyLoader.nextFileName))
        let reopened = try #require(try await second.store.listAccounts().first)
        #expect(try second.box.open(reopened.secret) == "sk-upstream-secret")
        #expect(second.hasher.hash("k") == first.hasher.hash("k"), "client keys still match after rotation")
        try await second.store.close()
    }

    @Test func rotationReSealsEverythingAndARunningKeyringFollowsTheFile() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var config = Configuration()
        config.database = "sqlite:\(directory)/switchboard.db"
        let server = try await StoreContext.open(config, logger: quietLogger())  // stands for a running server
        var settings = AccountSettings(name: "acct")
        settings.provider = .anthropic
        settings.apiKey = "sk-ant-secret"
        settings.models = ["m"]
        let proxied = try AccountSettings(json: ["proxy": .string("socks5://me:proxy-pass@203.0.113.5:1080")], name: "acct")
        (settings.proxy, settings.proxyPassword) = (proxied.proxy, proxied.proxyPassword)
        _ = try await AccountAdmin(store: server.store, box: server.box, source: "test", upstreams: .init()).create(settings)
        let oldKeyID = server.box.keyID
        var captured = LedgerRow(requestID: "req_captured", createdAt: Date(), dialect: "openai_chat", status: 200, outcome: .ok)
        captured.capture = try server.box.seal(#"{"request":"hello"}"#)
        try await server.store.appendLedger([captured])

        let cli = try await StoreContext.open(config, logger: quietLogger())
        let rotation = try await Admin(context: cli).rotateMasterKey(newKey: nil, dataDirectory: directory)
        try await cli.store.close()
        #expect(rotation.resealed == 1 && rotation.unopenable.isEmpty && rotation.newKeyID != oldKeyID)
        #expect(rotation.capturesResealed == 1)
        let capture = try #require(try await server.store.capture(requestID: "req_captured"))
        let opened = try server.box.open(capture)
        #expect(capture.keyID == rotation.newKeyID && opened == #"{"request":"hello"}"#, "captured bodies follow the key")

        let record = try #require(try await server.store.listAccounts().first)
        #expect(record.secret.keyID == rotation.newKeyID)
        #expect(try server.box.open(record.secret) == "sk-ant-secret", "the running server follows the new key file")
        let proxySecret = try #require(record.proxySecret)
        let proxyPassword = try server.box.open(proxySecret)
        #expect(proxySecret.keyID == rotation.newKeyID && proxyPassword == "proxy-pass", "the proxy's password too")
        #expect(record.options.proxy == "socks5://me@203.0.113.5:1080", "stored without its password")
        #expect(server.box.keyID == rotation.newKeyID)
        try await server.store.close()
    }
}

@Suite struct KeySeedingTests {
    @Test func aTopUpSurvivesARestartButOtherSettingsFollowTheFile() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var config = try loadConfiguration(
            """
            keys:
              - name: k
                key: sk-sb-k-0123456789abcdefghijklmn
                balance_usd: 1
                concurrency: 2
                models: ["gpt-*"]
            """)
        config.database = "sqlite:\(directory)/switchboard.db"
        let context = try await StoreContext.open(config, logger: quietLogger())
        try await ConfigSeeder.seed(config, into: context, logger: quietLogger())
        _ = try await Admin(context: context).keys.adjustBalance("k", by: Money(picos: 2 * Money.picosPerDollar))
        config.keys[0].policy.concurrency = 5
        try await ConfigSeeder.seed(config, into: context, logger: quietLogger())  // the next start
        let policy = try #require(try await context.store.listKeys().first?.policy)
        #expect(policy.balance == Money(picos: 3 * Money.picosPerDollar))
        #expect(policy.concurrency == 5 && policy.models == ["gpt-*"])
        try await context.store.close()
    }

    @Test func aProvidersCapFollowsTheFileAndOneSetThroughTheAPIStays() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var config = try loadConfiguration("providers:\n  openai: {max_failovers: 1}\n  gemini: {max_failovers: 2}\n")
        config.database = "sqlite:\(directory)/switchboard.db"
        let context = try await StoreContext.open(config, logger: quietLogger())
        try await ConfigSeeder.seed(config, into: context, logger: quietLogger())
        _ = try await RoutingAdmin(store: context.store).setProvider("anthropic", ["max_failovers": .number(0)])
        func caps() async throws -> [Provider: Int] {
            Dictionary(
                uniqueKeysWithValues: try await context.store.listProviderSettings().compactMap { s in s.maxFailovers.map { (s.provider, $0) } })
        }
        #expect(try await caps() == [.openai: 1, .gemini: 2, .anthropic: 0])
        config.providerFailovers = [.gemini: 3]  // the next start: openai's cap gone from the file
        try await ConfigSeeder.seed(config, into: context, logger: quietLogger())
        #expect(try await caps() == [.gemini: 3, .anthropic: 0])
        try await context.store.close()
    }
}
