import Admin
import Crypto
import Engine
import Foundation
import NIOHTTP1
import Policy
import Storage
import SwitchboardApp
import SwitchboardCore
import Testing

/// Every admin action, from the admin API, the console and the CLI, is in the
/// audit log with who, from where, and the record before and after; never a secret.
@Suite struct AuditLogTests {
    static let token = "admin-token-0123456789abcdef"
    static let upstreamSecret = "sk-upstream-audit-secret-123"

    func admin(_ harness: Harness, _ path: String, method: HTTPMethod = .GET, body: String? = nil) async throws -> Harness.Reply {
        try await harness.admin(path, method: method, body: body, token: Self.token)
    }

    func entries(_ reply: Harness.Reply) -> [[String: Any]] { reply.json["entries"] as? [[String: Any]] ?? [] }

    @Test func adminAPIActionsAreRecordedWithWhoWhereAndBeforeAndAfter() async throws {
        try await withHarness(configure: { $0.adminToken = Self.token }) { (harness: Harness) async throws in
            #expect(try await admin(harness, "/keys", method: .POST, body: #"{"name":"team-a","concurrency":2}"#).status == 201)
            #expect(try await admin(harness, "/keys/team-a", method: .PATCH, body: #"{"daily_cost_usd":5}"#).status == 200)
            #expect(try await admin(harness, "/keys/team-a/disable", method: .POST).status == 200)
            #expect(try await admin(harness, "/keys/team-a/topup", method: .POST, body: #"{"amount_usd":"2.50"}"#).status == 200)
            let account =
                #"{"name":"acct","provider":"openai","api_key":"\#(Self.upstreamSecret)","models":["gpt-4o"],"base_url":"https://api.openai.com/v1"}"#
            #expect(try await admin(harness, "/accounts", method: .POST, body: account).status == 201)
            #expect(try await admin(harness, "/users", method: .POST, body: #"{"name":"u1","balance_usd":"3"}"#).status == 201)
            #expect(try await admin(harness, "/keys/team-a", method: .DELETE).status == 204)
            // Refused changes change nothing, and so are not in the log.
            #expect(try await admin(harness, "/keys/nobody", method: .PATCH, body: #"{"concurrency":1}"#).status == 404)

            let reply = try await admin(harness, "/audit")
            #expect(reply.status == 200)
            let log = entries(reply)
            #expect(
                log.compactMap { $0["action"] as? String }
                    == ["key.delete", "user.create", "account.create", "key.topup", "key.disable", "key.update", "key.create"])
            #expect(log.allSatisfy { $0["source"] as? String == "api" && $0["address"] as? String == "127.0.0.1" })
            #expect(log.allSatisfy { ($0["who"] as? String)?.wholeMatch(of: /admin_token:[0-9a-f]{8}/) != nil })
            let update = try #require(log.first { $0["action"] as? String == "key.update" })
            #expect((update["before"] as? [String: Any])?["daily_cost_usd"] == nil)
            #expect((update["after"] as? [String: Any])?["daily_cost_usd"] as? String == "5")
            let created = try #require(log.first { $0["action"] as? String == "key.create" })
            #expect(created["before"] == nil && (created["after"] as? [String: Any])?["concurrency"] as? Int == 2)
            let deleted = try #require(log.first { $0["action"] as? String == "key.delete" })
            #expect(deleted["after"] == nil && (deleted["before"] as? [String: Any])?["name"] as? String == "team-a")
            #expect(!reply.body.contains(Self.upstreamSecret) && !reply.body.contains(Self.token), "no secret in the log")

            // Filters and pages.
            let keys = entries(try await admin(harness, "/audit?action=key"))
            #expect(keys.count == 5 && keys.allSatisfy { ($0["action"] as? String)?.hasPrefix("key.") == true })
            #expect(entries(try await admin(harness, "/audit?target=acct")).count == 1)
            let first = try await admin(harness, "/audit?limit=4")
            let cursor = try #require(first.json["next_cursor"] as? String)
            let second = try await admin(harness, "/audit?limit=4&cursor=\(cursor)")
            #expect(entries(first).count == 4 && entries(second).count == 3 && second.json["next_cursor"] == nil)
            #expect(Set(entries(first).compactMap { $0["id"] as? Int }).isDisjoint(with: entries(second).compactMap { $0["id"] as? Int }))
            #expect(try await admin(harness, "/audit?cursor=soon").status == 400)
        }
    }

    @Test func theCommandLineIsRecordedAsItsUserAndRetentionClearsOldEntries() async throws {
        try await withStore { store, _ in
            let keys = KeyAdmin(store: store, hasher: KeyHasher(secret: SymmetricKey(size: .bits256)))
            _ = try await keys.create(name: "from-cli", settings: [:], source: "cli")
            let page = try await AuditAdmin(store: store).list(AuditQuery())
            #expect(page.entries.map(\.action) == ["key.create"])
            #expect(page.entries.first?.source == "cli" && page.entries.first?.who.hasPrefix("cli:") == true)
            try await store.appendAudit(
                AuditEntry(createdAt: Date().addingTimeInterval(-100 * 86400), who: "x", source: "cli", action: "key.update", target: "old"))
            let retention = LedgerRetention(store: store, retention: .seconds(90 * 86400), interval: .seconds(3600), logger: quietLogger())
            await retention.sweep(now: Date())
            #expect(try await store.auditPage(AuditQuery()).entries.map(\.target) == ["from-cli"])
        }
    }
}
