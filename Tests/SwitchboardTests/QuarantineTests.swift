import Engine
import Foundation
import NIOHTTP1
import Policy
import Storage
import SwitchboardApp
import SwitchboardCore
import SwitchboardTesting
import Testing

/// Ban-aware sessions: a provider's ban signal ends the request where it is,
/// quarantines its session (or key), marks the account, and an admin releases it.
@Suite struct QuarantineTests {
    static let token = "admin-token-0123456789abcdef"

    static func chat(_ model: String, _ harness: Harness, session: String?) async throws -> Harness.Reply {
        try await harness.send("/v1/chat/completions", body: Harness.chat(model), headers: session.map { [("session-id", $0)] } ?? [])
    }

    @Test func aBanSignalQuarantinesTheSessionInsteadOfMovingIt() async throws {
        try await withHarness(configure: { $0.adminToken = Self.token }) { harness in
            let banned = try await Self.chat("banned-account", harness, session: "conversation-1")
            #expect(banned.status == 403)
            #expect((banned.json["error"] as? [String: Any])?["code"] as? String == "session_quarantined")
            #expect(harness.fake.received.count == 1, "not retried on another account")
            #expect(!banned.body.contains("deactivated"), "the provider's words stay with the admin")
            // The session's next requests are refused, whatever they ask, and reach no upstream.
            harness.fake.reset()
            let next = try await harness.send(
                "/v1/messages", body: Harness.messages("claude-sonnet-4-5"), headers: [("session-id", "conversation-1")])
            #expect(next.status == 403 && next.json["type"] as? String == "error", "refused in the client's own format")
            #expect(harness.fake.received.isEmpty)
            // Other sessions go on; the flagged account is marked and skipped.
            #expect(try await harness.send("/v1/messages", body: Harness.messages("claude-sonnet-4-5")).status == 200)
            let accounts = try await harness.admin("/accounts", token: Self.token)
            let openAI = (try JSONSerialization.jsonObject(with: Data(accounts.body.utf8)) as? [[String: Any]] ?? []).first {
                $0["name"] as? String == "openai-1"
            }
            #expect((openAI?["live"] as? [String: Any])?["state"] as? String == "unhealthy")
            // The admin sees the session, its key and the signal, and releases it.
            let listed = try await harness.admin("/quarantines", token: Self.token)
            let entries = try JSONSerialization.jsonObject(with: Data(listed.body.utf8)) as? [[String: Any]] ?? []
            let entry = try #require(entries.first)
            #expect(entries.count == 1 && entry["key"] as? String == "test-key" && entry["account"] as? String == "openai-1")
            #expect(entry["signal"] as? String == "account_deactivated" && entry["scope"] as? String == "session")
            #expect(entry["request_id"] as? String == banned.headers.first(name: "x-request-id"))
            let id = try #require(entry["id"] as? Int)
            #expect(try await harness.admin("/quarantines/\(id)/release", method: .POST, token: Self.token).status == 200)
            #expect(try await harness.admin("/quarantines/\(id)/release", method: .POST, token: Self.token).status == 404)
            #expect(try await harness.admin("/accounts/openai-1/enable", method: .POST, token: Self.token).status == 200)
            #expect(try await Self.chat("gpt-4o-mini", harness, session: "conversation-1").status == 200)
            let row = try await harness.row(banned.headers.first(name: "x-request-id"))
            #expect(row.status == 403 && row.attempts == 1 && row.cost == .zero)
        }
    }

    /// A release from another process (the CLI) reaches the store only: the
    /// server drops its own copy once a snapshot spoke for it, or, released
    /// before any snapshot saw it, after a minute.
    @Test func aReleaseFromTheCommandLineReachesTheRunningServer() async throws {
        try await withHarness { harness in
            let store = harness.switchboard.storeContext.store
            func served() async throws -> Bool { try await Self.chat("claude-sonnet-4-5", harness, session: "s-cli").status == 200 }
            #expect(try await Self.chat("banned-account", harness, session: "s-cli").status == 403)
            await harness.switchboard.refresher.refreshIfChanged()
            #expect(try await !served())
            let first = try #require(try await store.activeQuarantines().first)
            #expect(try await store.releaseQuarantine(id: first.id, at: Date()))
            await harness.switchboard.refresher.refreshIfChanged()
            #expect(try await served())
            // Released before any snapshot held it.
            #expect(try await Self.chat("banned-account", harness, session: "s-cli-2").status == 403)
            let second = try #require(try await store.activeQuarantines().first)
            #expect(try await store.releaseQuarantine(id: second.id, at: Date()))
            await harness.switchboard.refresher.refreshIfChanged()
            let again = try await Self.chat("claude-sonnet-4-5", harness, session: "s-cli-2")
            #expect(again.status == 403, "this process's own copy still holds")
            harness.clock.advance(by: .seconds(61))
            // (Both accounts are marked by now, so it is not served; but it is no longer quarantined.)
            let later = try await Self.chat("claude-sonnet-4-5", harness, session: "s-cli-2")
            #expect(later.status != 403 && !later.body.contains("session_quarantined"), "\(later.status) \(later.body)")
        }
    }

    @Test func keyScopeQuarantinesEveryRequestOfTheKey() async throws {
        try await withHarness(configure: { $0.sessionQuarantine = .key }) { harness in
            let banned = try await Self.chat("banned-account", harness, session: nil)
            let after = try await harness.send("/v1/messages", body: Harness.messages("claude-sonnet-4-5"))
            #expect(banned.status == 403 && after.status == 403)
            #expect(harness.fake.received.count == 1)
        }
    }

    @Test func offFailsOverAsForARefusedCredential() async throws {
        try await withHarness(configure: { $0.sessionQuarantine = .off }) { harness in
            _ = try await Self.chat("banned-account", harness, session: "s")
            #expect(harness.fake.received.count == 2, "moved to the other account")
            #expect(try await Self.chat("gpt-4o-mini", harness, session: "s").status != 403)
        }
    }

    @Test func anAccountsOwnBanPatternsCount() async throws {
        try await withHarness(
            accounts: { port in
                var account = Harness.defaultAccounts(fakePort: port)[0]
                account.options.banPatterns = ["FAKE UPSTREAM ERROR 402"]
                return [account]
            }
        ) { harness in
            #expect(try await Self.chat("fail-402", harness, session: "s-1").status == 403)
            let stored = try await harness.switchboard.storeContext.store.activeQuarantines()
            #expect(stored.map(\.signal) == ["ban_pattern:FAKE UPSTREAM ERROR 402"])
        }
    }

    @Test func signalsAreTheProvidersWordsForASuspendedAccountOnly() {
        #expect(
            BanSignal.detect(
                status: 400, body: #"{"type":"error","error":{"type":"invalid_request_error","message":"This organization has been disabled."}}"#)
                == "organization_disabled")
        #expect(BanSignal.detect(status: 401, body: #"{"error":{"code":"account_deactivated","message":"…"}}"#) == "account_deactivated")
        #expect(
            BanSignal.detect(status: 403, body: #"{"error":{"code":403,"status":"PERMISSION_DENIED","details":[{"reason":"CONSUMER_SUSPENDED"}]}}"#)
                == "consumer_suspended")
        #expect(BanSignal.detect(status: 403, body: #"{"error":{"message":"Your account violated our Usage Policies."}}"#) == "policy_violation")
        #expect(BanSignal.detect(status: 400, body: #"{"error":{"message":"max_tokens is too large"}}"#) == nil)
        #expect(BanSignal.detect(status: 500, body: #"{"error":{"message":"organization has been disabled"}}"#) == nil, "a server error is not a ban")
        #expect(BanSignal.detect(status: 429, body: #"{"error":{"message":"slow down"}}"#, patterns: ["SLOW"]) == "ban_pattern:SLOW")
        #expect(
            BanSignal.detect(status: 400, body: #"{"error":{"message":"usage policies violated"}}"#) == nil,
            "a policy refusal of one request is the caller's")
        #expect(BanSignal.detect(status: 403, body: "organization has been disabled (not JSON)") == nil, "only an error's own fields count")
    }

    /// Upstreams quote what a client sent in their 400s: a client cannot fake a
    /// ban signal (and so knock accounts out) by writing one into its request.
    @Test func aSignalTheClientWroteItselfDoesNotCount() {
        let echoed =
            #"{"error":{"code":400,"message":"Invalid JSON payload received. Unknown name "consumer_suspended": Cannot find field.","details":[{"reason":"CONSUMER_SUSPENDED"}]}}"#
        #expect(BanSignal.detect(status: 400, body: echoed, request: #"{"consumer_suspended": 1}"#) == nil)
        let quoted = #"{"error":{"message":"Unrecognized request argument supplied: account_deactivated","code":"account_deactivated"}}"#
        #expect(BanSignal.detect(status: 400, body: quoted, request: #"{"account_deactivated": true}"#) == nil)
        let disabled = #"{"error":{"message":"messages.0: This organization has been disabled. is not a valid role"}}"#
        #expect(BanSignal.detect(status: 400, body: disabled, request: "this organization has been disabled.") == nil)
        #expect(
            BanSignal.detect(
                status: 400, body: #"{"error":{"message":"bad word: FORBIDDEN-TOKEN"}}"#, patterns: ["forbidden-token"], request: "FORBIDDEN-TOKEN")
                == nil)
    }
}
