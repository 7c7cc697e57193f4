import Crypto
import Foundation
import NIOHTTP1
import Policy
import SwitchboardApp
import SwitchboardCore
import SwitchboardTesting
import Testing

@testable import Engine

/// `alerts:` webhooks: what raises an alert (once per condition, until it
/// clears), and its delivery: signed, retried on the gateway's clock, dead-lettered.
@Suite struct AlertTests {
    static let secret = "whsec-0123456789abcdef"
    static let token = "admin-token-0123456789abcdef"

    func observation(
        _ accounts: [(String, String)] = [], budgets: [(String, Int64, Int64)] = [], ledger: String? = nil,
        now: Date = Date(timeIntervalSince1970: 1_764_590_400)
    ) -> AlertObservation {
        AlertObservation(
            now: now,
            accounts: accounts.map {
                .init(name: $0.0, state: $0.1, reason: $0.1 == "unhealthy" ? "the upstream refused its key (401)" : nil, models: ["m"])
            },
            budgets: budgets.map { .init(subject: $0.0, kind: "balance", used: Money(picos: $0.1), limit: Money(picos: $0.2)) },
            ledgerProblem: ledger)
    }

    @Test func modelBudgetsAreWatchedPerGlobAndPeriod() {
        let starts = Periods.starts(of: Date(timeIntervalSince1970: 1_800_000_000))
        let spent = [
            "claude-opus-4-5": PeriodTotals(starts: starts, day: Money(picos: 800), week: Money(picos: 900), month: Money(picos: 900)),
            "claude-opus-4-1": PeriodTotals(starts: starts, day: Money(picos: 100), week: Money(picos: 100), month: Money(picos: 100)),
            "gpt-5": PeriodTotals(starts: starts, day: Money(picos: 5000), week: Money(picos: 5000), month: Money(picos: 5000)),
        ]
        let budgets = AlertMonitor.modelBudgets(
            [ModelBudget(pattern: "claude-opus-*", daily: Money(picos: 1000), monthly: Money(picos: 4000))], spent: spent, subject: "user:ann")
        #expect(budgets.map(\.kind) == ["model_budget:claude-opus-*:daily", "model_budget:claude-opus-*:monthly"])
        #expect(budgets.map(\.used) == [Money(picos: 900), Money(picos: 1000)] && budgets[0].limit == Money(picos: 1000))
    }

    @Test func eachConditionAlertsOnceUntilItClears() {
        var rules = AlertRules(stormAccounts: 2)
        #expect(rules.evaluate(observation([("a", "ready"), ("b", "ready")])).alerts.isEmpty)
        let unhealthy = rules.evaluate(observation([("a", "unhealthy"), ("b", "ready")])).alerts
        #expect(unhealthy.map(\.event) == [.accountUnhealthy] && unhealthy[0].subject == "account:a")
        #expect(rules.evaluate(observation([("a", "unhealthy"), ("b", "ready")])).alerts.isEmpty, "said once")
        #expect(rules.evaluate(observation([("a", "ready"), ("b", "ready")])).alerts.map(\.event) == [.accountRecovered])
        #expect(rules.evaluate(observation([("a", "cooling_down"), ("b", "cooling_down")])).alerts.map(\.event) == [.cooldownStorm])
        #expect(rules.evaluate(observation([("a", "cooling_down"), ("b", "ready")])).alerts.isEmpty)
        #expect(rules.evaluate(observation([("a", "cooling_down"), ("b", "cooling_down")])).alerts.map(\.event) == [.cooldownStorm], "a new storm")

        #expect(rules.evaluate(observation(budgets: [("key:k", 79, 100)])).alerts.isEmpty)
        #expect(rules.evaluate(observation(budgets: [("key:k", 80, 100)])).alerts.map(\.event) == [.budget80])
        #expect(rules.evaluate(observation(budgets: [("key:k", 100, 100)])).alerts.map(\.event) == [.budget100])
        #expect(rules.evaluate(observation(budgets: [("key:k", 100, 100)])).alerts.isEmpty)
        // A top-up clears both; spending again raises them again.
        #expect(rules.evaluate(observation(budgets: [("key:k", 100, 1000)])).alerts.isEmpty)
        #expect(rules.evaluate(observation(budgets: [("key:k", 1000, 1000)])).alerts.map(\.event) == [.budget100, .budget80])

        #expect(rules.evaluate(observation(ledger: "the disk is full")).alerts.map(\.event) == [.ledgerFailing])
        #expect(rules.evaluate(observation(ledger: "the disk is full")).alerts.isEmpty)
        #expect(rules.evaluate(observation()).alerts.map(\.event) == [.ledgerRecovered])
        // The day's summary is due once the UTC day turns.
        #expect(rules.evaluate(observation(now: Date(timeIntervalSince1970: 1_764_633_600 - 1))).summaryDue == nil)
        #expect(rules.evaluate(observation(now: Date(timeIntervalSince1970: 1_764_633_600))).summaryDue == "2025-12-01")
    }

    @Test func anAccountThatFailsIsAnnouncedSignedAndAWebhookThatIsDownIsDeadLettered() async throws {
        var hookBase = ""
        try await withHarness(
            accounts: { port in
                hookBase = "http://127.0.0.1:\(port)/hooks"
                return [
                    .init(
                        name: "broken", provider: .openai, baseURL: "http://127.0.0.1:\(port)/v1", apiKey: "sk-wrong-key", models: ["gpt-4o-mini"],
                        priority: 0),
                    .init(
                        name: "openai-1", provider: .openai, baseURL: "http://127.0.0.1:\(port)/v1", apiKey: Harness.openAISecret,
                        models: ["gpt-4o-mini"], priority: 1),
                ]
            },
            configure: { config in
                config.adminToken = Self.token
                config.alerts.interval = .seconds(10)
                config.alerts.webhooks = [
                    AlertWebhook(url: hookBase + "/ok", secret: Self.secret),
                    AlertWebhook(url: hookBase + "/down", secret: Self.secret, events: [.accountUnhealthy]),
                    AlertWebhook(url: hookBase + "/ok-budgets-only", secret: Self.secret, events: [.budget100]),
                ]
            }
        ) { harness in
            func hooks(_ path: String) -> [FakeUpstream.Received] { harness.fake.received.filter { $0.path == "/hooks/\(path)" } }
            /// Moves the gateway's clock a look at a time until `done` (bounded; no wall-clock assertion).
            func drive(until done: () -> Bool) async throws {
                for _ in 0..<60 where !done() {
                    try await harness.eventually { harness.clock.sleeperCount >= 1 }
                    harness.clock.advance(by: .seconds(10))
                    try await harness.eventually { done() || harness.clock.sleeperCount >= 1 }
                }
            }
            // The broken account refuses the key: marked unhealthy, the request fails over and succeeds.
            #expect(try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini")).status == 200)
            try await drive { hooks("ok").contains { $0.headers["x-switchboard-event"] == "account.unhealthy" } }
            let alert = try #require(hooks("ok").first { $0.headers["x-switchboard-event"] == "account.unhealthy" })
            let json = try #require(JSONSerialization.jsonObject(with: Data(alert.rawBody.utf8)) as? [String: Any])
            #expect(json["event"] as? String == "account.unhealthy" && json["subject"] as? String == "account:broken")
            #expect((json["id"] as? String)?.hasPrefix("evt_") == true && !alert.rawBody.contains("sk-wrong-key"))
            let mac = HMAC<SHA256>.authenticationCode(for: Data(alert.rawBody.utf8), using: SymmetricKey(data: Data(Self.secret.utf8)))
            #expect(alert.headers["x-switchboard-signature"] == "sha256=" + mac.map { String(format: "%02x", $0) }.joined())
            #expect(hooks("ok-budgets-only").isEmpty, "a webhook hears only the events it takes")

            // The down webhook is tried four times (once and three retries on the gateway's clock), then dead-lettered.
            // The clock moves on only once its sender sleeps before a retry (the monitor always
            // sleeps on the clock too: moved on its account, the clock ran ahead of the posts).
            for delay in AlertSettings().retryDelays {
                try await harness.eventually { harness.clock.sleeperCount(for: delay) == 1 }
                harness.clock.advance(by: delay)
            }
            try await harness.eventually { hooks("down").count == 4 && harness.switchboard.gateway.stats.alertDeadLetters == 1 }
            #expect(hooks("down").count == 4)
            #expect(harness.switchboard.gateway.stats.alertDeadLetters == 1)
            #expect(hooks("ok").filter { $0.headers["x-switchboard-event"] == "account.unhealthy" }.count == 1, "said once")

            // Enabled again by an admin: recovered.
            #expect(try await harness.admin("/accounts/broken/enable", method: .POST, token: Self.token).status == 200)
            try await drive { hooks("ok").contains { $0.headers["x-switchboard-event"] == "account.recovered" } }
            // Counted once the webhook's answer is read, just after it recorded the post.
            try await harness.eventually { harness.switchboard.gateway.stats.alertsDelivered >= 2 }
            #expect(harness.switchboard.gateway.stats.alertsDelivered >= 2)
        }
    }
}
