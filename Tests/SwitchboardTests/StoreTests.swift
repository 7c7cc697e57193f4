import Foundation
import SwitchboardCore
import Testing

@testable import Storage

/// The store contract. Every backend must pass it: SQLite on a real file, and PostgreSQL when a server is there (`withStore`).
@Suite struct StoreTests {
    func key(_ name: String, hash: String) -> KeyInput {
        KeyInput(name: name, hash: hash, prefix: "sk-sb-", lastFour: String(hash.suffix(4)), source: "cli")
    }

    @Test func migratingTwiceIsHarmlessAndTheFileSurvivesReopening() async throws {
        try await withStore { store, path in
            try await store.migrate()
            _ = try await store.insertKey(key("a", hash: "h1"))
            try await store.close()
            let reopened = try await openStore(path)
            try await reopened.migrate()
            #expect(try await reopened.listKeys().map(\.name) == ["a"])
            try await reopened.close()
        }
    }

    /// A ledger batch's statement journal stays in memory: on a temporary file it
    /// cost two writes per request, and recording requests needed a writable
    /// temporary directory (a read-only container has none).
    @Test func sqliteKeepsStatementJournalsInMemory() async throws {
        try await withStore(engines: [.sqlite]) { store, _ in
            let rows = try await #require(store as? SQLStore).query("PRAGMA temp_store")
            #expect(rows.first?.column("temp_store") == .integer(2))  // 2: MEMORY
        }
    }

    @Test func keysAreUniqueByNameAndRevocable() async throws {
        try await withStore { store, _ in
            let created = try await store.insertKey(key("laptop", hash: "h1"))
            #expect(created.enabled && created.revokedAt == nil && created.source == "cli")
            await #expect(throws: StoreError.self) { _ = try await store.insertKey(key("laptop", hash: "h2")) }
            #expect(try await store.revokeKey(name: "laptop", at: Date()))
            #expect(try await store.revokeKey(name: "nobody", at: Date()) == false)
            let listed = try await store.listKeys()
            #expect(listed.count == 1 && listed[0].enabled == false && listed[0].revokedAt != nil)
            #expect(listed[0].state(now: Date()) == "revoked")
        }
    }

    @Test func upsertingAKeyWithANewSecretReactivatesIt() async throws {
        try await withStore { store, _ in
            _ = try await store.upsertKey(key("cfg", hash: "old"))
            _ = try await store.revokeKey(name: "cfg", at: Date())
            let same = try await store.upsertKey(key("cfg", hash: "old"))
            #expect(same.revokedAt != nil, "re-declaring the same key does not undo a revocation")
            let replaced = try await store.upsertKey(key("cfg", hash: "new"))
            #expect(replaced.hash == "new" && replaced.enabled && replaced.revokedAt == nil)
        }
    }

    @Test func revisionMovesOnConfigurationChangesOnly() async throws {
        try await withStore { store, _ in
            let start = try await store.revision()
            _ = try await store.insertKey(key("a", hash: "h1"))
            let afterKey = try await store.revision()
            #expect(afterKey > start)
            let created = try await store.listKeys()[0]
            try await store.appendLedger([
                LedgerRow(requestID: "r1", createdAt: Date(), keyID: created.id, dialect: "openai_chat", status: 200, outcome: .ok)
            ])
            #expect(try await store.revision() == afterKey, "recording use must not reload every snapshot")
            #expect(try await store.listKeys()[0].lastUsedAt != nil)
            _ = try await store.upsertAccount(account("acc"))
            #expect(try await store.revision() > afterKey)
        }
    }

    func account(_ name: String, models: [String] = ["m"]) -> AccountInput {
        AccountInput(
            name: name, provider: .anthropic, baseURL: "http://127.0.0.1:1", secret: SealedSecret(keyID: "k", combined: Data([1, 2, 3])),
            models: models, modelMap: ["m": "m-upstream"], priority: 2, notes: "n", source: "config")
    }

    @Test func accountsRoundTripAndUpsertByName() async throws {
        try await withStore { store, _ in
            let first = try await store.upsertAccount(account("acc"))
            #expect(first.models == ["m"] && first.modelMap == ["m": "m-upstream"] && first.priority == 2)
            #expect(first.secret == SealedSecret(keyID: "k", combined: Data([1, 2, 3])))
            let second = try await store.upsertAccount(account("acc", models: ["x", "y"]))
            #expect(second.id == first.id && second.models == ["x", "y"])
            #expect(try await store.listAccounts().count == 1)
            #expect(try await store.removeAccount(name: "acc"))
            #expect(try await store.removeAccount(name: "acc") == false)
        }
    }

    @Test func ledgerRowsAreWrittenOnceEvenWhenABatchIsRetried() async throws {
        try await withStore { store, _ in
            let usage = TokenUsage(inputUncached: 10, cacheRead: 5, cacheWrite5m: 2, cacheWrite1h: 1, output: 7, reasoning: 3)
            let rows = (0..<1000).map { index in
                LedgerRow(
                    requestID: "req_\(index)", createdAt: Date(), keyName: index % 2 == 0 ? "even" : "odd", dialect: "openai_chat",
                    model: "m", status: 200, outcome: .ok, usage: usage, cost: Money(picos: 1_000_000), priced: true, attempts: 1)
            }
            for name in ["even", "odd"] {
                _ = try await store.insertKey(KeyInput(name: name, hash: "hash-" + name, prefix: "sk-sb-", lastFour: "0000", source: "test"))
            }
            try await store.appendLedger(rows)
            try await store.appendLedger(Array(rows[500...]))  // a retried half batch
            let report = try await store.usageReport(since: nil)
            #expect(report.total.requests == 1000)
            #expect(report.total.cost == Money(picos: 1_000_000_000))
            #expect(report.total.inputTokens == 10_000 && report.total.cacheWriteTokens == 3000)
            #expect(report.byKey.map(\.name).sorted() == ["even", "odd"])
            let recent = try await store.recentLedger(limit: 1)
            #expect(recent.first?.usage == usage)
        }
    }

    @Test func settingsAreSetOnce() async throws {
        try await withStore { store, _ in
            let first = try await store.initializeSetting("s", to: "first")
            #expect(first == "first")
            #expect(try await store.initializeSetting("s", to: "second") == "first")
            #expect(try await store.setting("s") == "first")
        }
    }

    /// Housekeeping runs on one replica at a time: while one process leads a
    /// task, another sharing the database skips it (SQLite has one process:
    /// it always runs); once done, the next may lead.
    @Test func oneProcessAtATimeLeadsATask() async throws {
        try await withStore { store, location in
            let other = try await openStore(location)
            let (entered, inside) = AsyncStream.makeStream(of: Void.self)
            let (released, release) = AsyncStream.makeStream(of: Void.self)
            let leader = Task {
                try await store.leading("sweep") {
                    inside.yield()
                    for await _ in released { break }
                    return "first"
                }
            }
            for await _ in entered { break }
            let meanwhile = try await other.leading("sweep") { "second" }
            let otherTask = try await other.leading("another task") { "free" }
            release.yield()
            #expect(try await leader.value == "first")
            #expect(otherTask == "free")
            if location.hasPrefix("postgres://") {
                #expect(meanwhile == nil, "a second process led the task while the first did")
                #expect(try await other.leading("sweep") { "after" } == "after")
            } else {
                #expect(meanwhile == "second")
            }
            try await other.close()
        }
    }

    /// A change another process commits is told to the watchers as it
    /// commits (PostgreSQL's LISTEN/NOTIFY); SQLite has nothing to listen to
    /// and returns at once (its gateways poll the revision).
    @Test func aChangeIsToldToTheWatchers() async throws {
        try await withStore { store, location in
            let (told, tell) = AsyncStream.makeStream(of: Void.self)
            let watcher = Task { await store.watchChanges { tell.yield() } }
            guard location.hasPrefix("postgres://") else {
                await watcher.value  // nothing to watch: it returned
                return
            }
            let other = try await openStore(location)
            // The listener may not be in place yet: change until a change is told, at most a hundred times.
            let changer = Task {
                for index in 0..<100 where !Task.isCancelled {
                    _ = try? await other.insertKey(key("watched-\(index)", hash: "hash-watched-\(index)"))
                    try? await Task.sleep(for: .milliseconds(100))
                }
                tell.finish()
            }
            var iterator = told.makeAsyncIterator()
            let heard = await iterator.next() != nil
            changer.cancel()
            _ = await changer.value
            watcher.cancel()
            #expect(heard, "no change was told")
            try await other.close()
        }
    }
}
