import Engine
import Foundation
import NIOHTTP1
import Policy
import SwitchboardApp
import SwitchboardTesting
import Testing

/// The admin API for accounts, on the running server.
@Suite struct AdminAPITests {
    static let token = "admin-token-0123456789abcdef"

    func admin(_ harness: Harness, _ path: String, method: HTTPMethod = .GET, body: String? = nil) async throws -> Harness.Reply {
        try await harness.admin(path, method: method, body: body, token: Self.token)
    }

    @Test func offWithoutATokenAndClosedToWrongOnes() async throws {
        try await withHarness { (harness: Harness) async throws in
            let off = try await harness.send("/admin/accounts", method: .GET, key: Self.token)
            #expect(off.status == 404)
        }
        try await withHarness(configure: { $0.adminToken = Self.token }) { (harness: Harness) async throws in
            #expect(try await harness.send("/admin/accounts", method: .GET, key: nil).status == 401)
            #expect(try await harness.send("/admin/accounts", method: .GET, key: Harness.key).status == 401)
            #expect(try await harness.send("/admin/accounts", method: .GET, key: Self.token + "x").status == 401)
        }
    }

    /// `/ready` is 200 only while requests could be served: with no account
    /// left that could take one it is 503 saying why, and back once one can.
    @Test func readyMeansAnAccountCouldServe() async throws {
        try await withHarness(accounts: { [Harness.geminiAccount(fakePort: $0)] }, configure: { $0.adminToken = Self.token }) {
            (harness: Harness) async throws in
            let ready = try await harness.send("/ready", method: .GET, key: nil)
            #expect(ready.status == 200 && ready.json["status"] as? String == "ready")
            #expect(try await admin(harness, "/accounts/gemini-1/disable", method: .POST).status == 200)
            let unready = try await harness.send("/ready", method: .GET, key: nil)
            let reasons = unready.json["reasons"] as? [String] ?? []
            #expect(unready.status == 503 && reasons.contains { $0.contains("no upstream account is usable") && $0.contains("1 disabled") })
            #expect(try await admin(harness, "/accounts/gemini-1/enable", method: .POST).status == 200)
            #expect(try await harness.send("/ready", method: .GET, key: nil).status == 200)
        }
        try await withHarness(accounts: { _ in [] }) { (harness: Harness) async throws in
            let none = try await harness.send("/ready", method: .GET, key: nil)
            #expect(none.status == 503 && (none.json["reasons"] as? [String] ?? []).contains("no upstream accounts are configured"))
        }
    }

    @Test func accountsLifecycleWithLiveState() async throws {
        try await withHarness(configure: { $0.adminToken = Self.token }) { (harness: Harness) async throws in
            let list = try await admin(harness, "/accounts")
            #expect(list.status == 200)
            #expect(!list.body.contains(Harness.openAISecret) && !list.body.contains(Harness.anthropicSecret))
            let accounts = try #require(try JSONSerialization.jsonObject(with: Data(list.body.utf8)) as? [[String: Any]])
            let first = try #require(accounts.first { $0["name"] as? String == "openai-1" })
            #expect((first["live"] as? [String: Any])?["state"] as? String == "ready")
            #expect(first["secret"] as? String == "ok")

            // Create, with caps; the server serves through it at once.
            let created = try await admin(
                harness, "/accounts", method: .POST,
                body: """
                    {"name":"extra","provider":"openai","base_url":"http://127.0.0.1:\(harness.fakePort)/v1",
                     "api_key":"\(Harness.openAISecret)","models":["extra-model"],"max_concurrency":2,"wait_timeout":"5s"}
                    """)
            #expect(created.status == 201)
            #expect(created.json["max_concurrency"] as? Int == 2 && created.json["wait_timeout"] as? String == "5s")
            #expect(!created.body.contains(Harness.openAISecret))
            #expect(try await harness.send("/v1/chat/completions", body: Harness.chat("extra-model")).status == 200)
            #expect(
                try await admin(harness, "/accounts", method: .POST, body: #"{"name":"extra","provider":"openai","api_key":"k","models":["m"]}"#)
                    .status == 409)

            // Update only what is given; null removes a cap; unknown fields and bad types are refused.
            let updated = try await admin(harness, "/accounts/extra", method: .PATCH, body: #"{"priority":5,"max_concurrency":null}"#)
            #expect(updated.status == 200)
            #expect(updated.json["priority"] as? Int == 5 && updated.json["max_concurrency"] == nil)
            #expect(updated.json["models"] as? [String] == ["extra-model"])
            #expect(try await admin(harness, "/accounts/extra", method: .PATCH, body: #"{"total_requests":0}"#).status == 400)
            #expect(try await admin(harness, "/accounts/extra", method: .PATCH, body: #"{"priority":"high"}"#).status == 400)
            #expect(try await admin(harness, "/accounts/extra", method: .PATCH, body: "not json").status == 400)
            #expect(try await admin(harness, "/accounts/nobody", method: .PATCH, body: "{}").status == 404)

            // Disable: the model has no usable account; enable: it serves again.
            #expect(try await admin(harness, "/accounts/extra/disable", method: .POST).json["enabled"] as? Bool == false)
            #expect(try await harness.send("/v1/chat/completions", body: Harness.chat("extra-model")).status == 503)
            #expect(try await admin(harness, "/accounts/extra/enable", method: .POST).status == 200)
            #expect(try await harness.send("/v1/chat/completions", body: Harness.chat("extra-model")).status == 200)

            // Delete: the model is gone.
            #expect(try await admin(harness, "/accounts/extra", method: .DELETE).status == 204)
            #expect(try await harness.send("/v1/chat/completions", body: Harness.chat("extra-model")).status == 404)
        }
    }

    @Test func enablingClearsACooldownAndTestProbesTheAccount() async throws {
        try await withHarness(configure: { $0.adminToken = Self.token }) { (harness: Harness) async throws in
            _ = try await harness.send("/v1/chat/completions", body: Harness.chat("fail-429"))
            let cooling = try await admin(harness, "/accounts/openai-1")
            #expect((cooling.json["live"] as? [String: Any])?["state"] as? String == "cooling_down")
            #expect((cooling.json["live"] as? [String: Any])?["last_error"] as? String == "upstream answered 429")
            let enabled = try await admin(harness, "/accounts/openai-1/enable", method: .POST)
            #expect((enabled.json["live"] as? [String: Any])?["state"] as? String == "ready")

            let probe = try await admin(harness, "/accounts/openai-1/test", method: .POST)
            #expect(probe.status == 200)
            #expect(probe.json["ok"] as? Bool == true && probe.json["status"] as? Int == 200)
        }
    }

    @Test func aProbeClearsAHealthMarkOnceTheUpstreamAcceptsTheKeyAgain() async throws {
        try await withHarness(configure: { $0.adminToken = Self.token }) { (harness: Harness) async throws in
            harness.fake.refusedKeys = [Harness.anthropicSecret]
            #expect(try await harness.send("/v1/messages", body: Harness.messages("claude-sonnet-4-5")).status == 502)
            let marked = try await admin(harness, "/accounts/anthropic-1")
            #expect((marked.json["live"] as? [String: Any])?["state"] as? String == "unhealthy")
            let failing = try await admin(harness, "/accounts/anthropic-1/test", method: .POST)
            #expect(failing.json["ok"] as? Bool == false && failing.json["failure_class"] as? String == "credential")
            #expect(!failing.body.contains(Harness.anthropicSecret))
            // The provider takes the key again: the next probe brings the account back.
            harness.fake.refusedKeys = []
            await HealthProber(gateway: harness.switchboard.gateway, interval: .seconds(60), logger: quietLogger()).probeUnhealthy()
            let back = try await admin(harness, "/accounts/anthropic-1")
            #expect((back.json["live"] as? [String: Any])?["state"] as? String == "ready")
            #expect(try await harness.send("/v1/messages", body: Harness.messages("claude-sonnet-4-5")).status == 200)
        }
    }
}
