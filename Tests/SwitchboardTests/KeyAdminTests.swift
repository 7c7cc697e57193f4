import Admin
import Engine
import Foundation
import NIOHTTP1
import Policy
import Storage
import SwitchboardCore
import Testing

@testable import SwitchboardApp

/// Keys through the admin API and `/v1/usage`.
@Suite struct KeyAdminTests {
    static let token = "admin-token-0123456789abcdef"

    func admin(_ harness: Harness, _ path: String, method: HTTPMethod = .GET, body: String? = nil) async throws -> Harness.Reply {
        try await harness.admin(path, method: method, body: body, token: Self.token)
    }

    @Test func createShowsTheKeyOnceAndItWorksAtOnce() async throws {
        try await withHarness(configure: { $0.adminToken = Self.token }) { (harness: Harness) async throws in
            let created = try await admin(
                harness, "/keys", method: .POST, body: #"{"name":"team-a","balance_usd":"0.50","models":["gpt-*"],"concurrency":2}"#)
            #expect(created.status == 201)
            let secret = try #require(created.json["api_key"] as? String)
            #expect(secret.hasPrefix("sk-sb-") && secret.count >= 49)
            let view = try #require(created.json["key"] as? [String: Any])
            #expect(view["balance_usd"] as? String == "0.5" && view["concurrency"] as? Int == 2)
            let list = try await admin(harness, "/keys")
            #expect(!list.body.contains(secret), "the key is shown once, at creation")
            #expect(try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini"), key: secret).status == 200)
            #expect(try await harness.send("/v1/chat/completions", body: Harness.chat("echo"), key: secret).status == 403)
            #expect(try await admin(harness, "/keys", method: .POST, body: #"{"name":"team-a"}"#).status == 409)
            // The config file's relative expiry works here too, and only one kind of expiry at a time.
            let before = Date()
            let expiring = try await admin(harness, "/keys", method: .POST, body: #"{"name":"week","expires_in_days":7}"#)
            let expiry = try #require(WireDate.rfc3339((expiring.json["key"] as? [String: Any])?["expires_at"] as? String ?? ""))
            #expect(expiry >= before.addingTimeInterval(7 * 86_400 - 1) && expiry <= Date().addingTimeInterval(7 * 86_400 + 1))
            let both = try await admin(
                harness, "/keys", method: .POST, body: #"{"name":"both","expires_in_days":7,"expires_at":"2030-01-01T00:00:00Z"}"#)
            #expect(both.status == 400)
        }
    }

    @Test func onlySettingsCanChangeNeverUsageOrHashes() async throws {
        try await withHarness(configure: { $0.adminToken = Self.token }) { (harness: Harness) async throws in
            for field in [#"{"total_cost_usd":0}"#, #"{"hash":"00"}"#, #"{"usage":{}}"#, #"{"key":"sk-sb-new-0123456789abcdefghij"}"#] {
                let reply = try await admin(harness, "/keys/test-key", method: .PATCH, body: field)
                #expect(reply.status == 400, "\(field) was accepted")
            }
            let updated = try await admin(harness, "/keys/test-key", method: .PATCH, body: #"{"daily_cost_usd":5,"rate_limit":{"requests":10}}"#)
            #expect(updated.status == 200)
            #expect(updated.json["daily_cost_usd"] as? String == "5")
            #expect((updated.json["rate_limit"] as? [String: Any])?["requests"] as? Int == 10)
            let cleared = try await admin(harness, "/keys/test-key", method: .PATCH, body: #"{"rate_limit":null}"#)
            #expect(cleared.json["rate_limit"] == nil && cleared.json["daily_cost_usd"] as? String == "5")
            #expect(try await admin(harness, "/keys/test-key/disable", method: .POST).json["state"] as? String == "disabled")
            #expect(try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini")).status == 401)
            #expect(try await admin(harness, "/keys/test-key/enable", method: .POST).json["state"] as? String == "active")
            #expect(try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini")).status == 200)
        }
    }

    @Test func topUpDeductAndUsage() async throws {
        try await withHarness(configure: {
            $0.adminToken = Self.token
            $0.keys[0].policy.balance = Money(picos: 1_000_000_000_000)  // $1
        }) { (harness: Harness) async throws in
            #expect(try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini")).status == 200)
            let usage = try await harness.send("/v1/usage", method: .GET)
            #expect(usage.status == 200)
            #expect(usage.json["plan"] as? String == "balance" && usage.json["unit"] as? String == "USD")
            #expect(usage.json["isValid"] as? Bool == true && usage.json["planName"] as? String == "balance", "as sub2api-style scripts read it")
            #expect(usage.json["today_cost_usd"] != nil && usage.json["in_flight"] != nil, "the other members keep their names")
            let remaining = try #require(usage.json["remaining"] as? Double)
            #expect(remaining < 1 && remaining > 0.99)

            let topped = try await admin(harness, "/keys/test-key/topup", method: .POST, body: #"{"amount_usd":"2"}"#)
            #expect(topped.json["balance_usd"] as? String == "3")
            let tooMuch = try await admin(harness, "/keys/test-key/deduct", method: .POST, body: #"{"amount_usd":"3"}"#)
            #expect(tooMuch.status == 400, "more than remains (something was spent)")
            let deducted = try await admin(harness, "/keys/test-key/deduct", method: .POST, body: #"{"amount_usd":"2.5"}"#)
            #expect(deducted.status == 200 && deducted.json["balance_usd"] as? String == "0.5")

            _ = try await harness.ledger(atLeast: 1)
            let stats = try await admin(harness, "/keys/test-key/stats?days=7")
            let days = try #require(stats.json["series"] as? [[String: Any]])
            #expect(stats.status == 200 && days.count == 1 && stats.json["interval"] as? String == "day")
            let unlimited = try await withHarnessUsageOfUnlimitedKey(harness)
            #expect(unlimited == -1)
        }
    }

    /// `/v1/usage` for a key with no limits says -1.
    func withHarnessUsageOfUnlimitedKey(_ harness: Harness) async throws -> Double? {
        let created = try await admin(harness, "/keys", method: .POST, body: #"{"name":"free"}"#)
        let secret = try #require(created.json["api_key"] as? String)
        return try await harness.send("/v1/usage", method: .GET, key: secret).json["remaining"] as? Double
    }

    @Test func expiredKeysAreDisabledOrDeletedAndTheirRowsStay() async throws {
        try await withHarness(configure: { $0.adminToken = Self.token }) { (harness: Harness) async throws in
            let store = harness.switchboard.storeContext.store
            let soon = Date().addingTimeInterval(120).formatted(.iso8601)
            let gone = try await admin(harness, "/keys", method: .POST, body: #"{"name":"gone","on_expiry":"delete","expires_at":"\#(soon)"}"#)
            let kept = try await admin(harness, "/keys", method: .POST, body: #"{"name":"kept","expires_at":"\#(soon)"}"#)
            let goneKey = try #require(gone.json["api_key"] as? String)
            _ = try #require(kept.json["api_key"] as? String)
            #expect(try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini"), key: goneKey).status == 200)
            _ = try await harness.ledger(atLeast: 1)
            let housekeeper = KeyHousekeeper(store: store, refresher: harness.switchboard.refresher, logger: quietLogger())
            await housekeeper.sweep(now: Date().addingTimeInterval(180))
            let names = try await store.listKeys().map(\.name)
            #expect(!names.contains("gone") && names.contains("kept"))
            #expect(try await store.listKeys().first { $0.name == "kept" }?.enabled == false)
            let report = try await store.usageReport(since: nil)
            #expect(report.byKey.contains { $0.name == "gone (deleted)" && $0.requests == 1 })
            // A config file that still declares it does not bring it back at the next start.
            var config = harness.switchboard.configuration
            config.keys.append(.init(name: "gone", key: goneKey))
            try await ConfigSeeder.seed(config, into: harness.switchboard.storeContext, logger: quietLogger())
            #expect(try await !store.listKeys().contains { $0.name == "gone" })
        }
    }
}

@Suite struct PartyAdminTests {
    static let token = "admin-token-0123456789abcdef"

    func admin(_ harness: Harness, _ path: String, method: HTTPMethod = .GET, body: String? = nil) async throws -> Harness.Reply {
        try await harness.admin(path, method: method, body: body, token: Self.token)
    }

    @Test func groupsUsersAndKeysTogether() async throws {
        try await withHarness(configure: { $0.adminToken = Self.token }) { (harness: Harness) async throws in
            let group = try await admin(harness, "/groups", method: .POST, body: #"{"name":"pro","multiplier":"2","subscription":{"daily_usd":"1"}}"#)
            #expect(group.status == 201 && group.json["multiplier"] as? String == "2")
            #expect((group.json["subscription"] as? [String: Any])?["daily_usd"] as? String == "1")
            #expect(try await admin(harness, "/users", method: .POST, body: #"{"name":"alice","group":"nobody"}"#).status == 400)
            let user = try await admin(harness, "/users", method: .POST, body: #"{"name":"alice","group":"pro","balance_usd":"0.5"}"#)
            #expect(user.status == 201 && user.json["balance_usd"] as? String == "0.5")
            #expect(try await admin(harness, "/users/alice", method: .PATCH, body: #"{"balance_usd":"9"}"#).status == 400)
            #expect(try await admin(harness, "/keys/test-key", method: .PATCH, body: #"{"user":"alice"}"#).status == 200)

            let reply = try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini"))
            let row = try await harness.row(reply.headers.first(name: "x-request-id"))
            #expect(row.userName == "alice" && row.cost.picos == 2 * 8_550_000, "charged at the group's multiplier")
            for path in ["/users/alice/stats", "/groups/pro/stats"] {
                let stats = try await admin(harness, path)
                #expect(stats.json["requests"] as? Int == 1 && stats.json["cost_usd"] as? String == "0.0000171", "\(path)")
            }

            #expect(try await admin(harness, "/users/alice/deduct", method: .POST, body: #"{"amount_usd":"0.5"}"#).status == 400)
            let topped = try await admin(harness, "/users/alice/topup", method: .POST, body: #"{"amount_usd":"1.5"}"#)
            #expect(topped.json["balance_usd"] as? String == "2")
            #expect(try await admin(harness, "/groups/pro", method: .DELETE).status == 409, "a group with users stays")
            #expect(try await admin(harness, "/groups").json.isEmpty)  // an array, not an object
            let groups = try await admin(harness, "/groups")
            #expect(groups.body.contains(#""name":"pro""#))
        }
    }
}

@Suite struct KeyActivationTests {
    @Test func aKeyThatActivatesOnFirstUseGetsItsExpiryFromItsFirstRequest() async throws {
        try await withHarness(configure: { $0.keys[0].policy.activateOnFirstUseDays = 30 }) { harness in
            let store = harness.switchboard.storeContext.store
            #expect(try await store.listKeys().first?.expiresAt == nil)
            let before = Date()
            _ = try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini"))
            _ = try await harness.ledger(atLeast: 1)
            let expiry = try #require(try await store.listKeys().first?.expiresAt)
            let days = expiry.timeIntervalSince(before) / 86400
            #expect(days > 29.99 && days < 30.01)
            // A restart that re-applies the config keeps the activated expiry.
            try await ConfigSeeder.seed(harness.switchboard.configuration, into: harness.switchboard.storeContext, logger: quietLogger())
            #expect(try await store.listKeys().first?.expiresAt == expiry)
        }
    }
}
