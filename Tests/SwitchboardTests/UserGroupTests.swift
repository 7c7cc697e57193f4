import Foundation
import NIOHTTP1
import Policy
import Storage
import SwitchboardApp
import SwitchboardCore
import SwitchboardTesting
import Testing

/// Users' balances shared by their keys, group multipliers and subscriptions.
@Suite struct UserGroupTests {
    static let secondKey = "sk-sb-test-second-0123456789abcdefghij"

    /// Two keys of one user, in one group.
    static func configure(_ group: GroupEntry, balance: Int64?) -> (inout Configuration) -> Void {
        { config in
            config.groups = [group]
            config.users = [UserEntry(id: 0, name: "alice", group: group.name, balance: balance.map(Money.init(picos:)))]
            config.keys[0].policy.user = "alice"
            config.keys.append(
                .init(
                    name: "second", key: secondKey,
                    policy: {
                        var p = KeyPolicy()
                        p.user = "alice"
                        return p
                    }()))
        }
    }

    @Test func twoKeysOfOneUserNeverSpendMoreThanTheUsersBalance() async throws {
        let balance: Int64 = 100_000_000
        try await withHarness(configure: Self.configure(GroupEntry(id: 0, name: "team"), balance: balance)) { harness in
            let replies = try await withThrowingTaskGroup(of: Int.self) { group in
                for n in 0..<100 {
                    group.addTask {
                        let body = #"{"model":"gpt-4o-mini","max_tokens":16,"messages":[{"role":"user","content":"u\#(n)"}]}"#
                        return try await harness.send("/v1/chat/completions", body: body, key: n % 2 == 0 ? Harness.key : Self.secondKey).status
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(replies.contains(200) && replies.contains(429))
            let rows = try await harness.ledger(atLeast: 100)
            let spent = rows.reduce(Int64(0)) { $0 + $1.cost.picos }
            #expect(spent <= balance && spent > 0)
            #expect(rows.allSatisfy { $0.userName == "alice" })
            let refused = try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini"), key: Self.secondKey)
            #expect(refused.status == 429 && refused.body.contains("owner's balance"))
        }
    }

    @Test func aGroupMultiplierScalesWhatIsChargedExactly() async throws {
        try await withHarness(configure: Self.configure(GroupEntry(id: 0, name: "resellers", multiplierPPM: 1_500_000), balance: nil)) { harness in
            let reply = try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini"))
            let row = try await harness.row(reply.headers.first(name: "x-request-id"))
            // gpt-4o-mini list price: 21 × $0.15/M + 9 × $0.60/M = 8,550,000 picodollars; ×1.5.
            #expect(row.cost.picos == 12_825_000)
        }
    }

    @Test func aSubscriptionsDailyCapStopsTheDayAndUsageReportsIt() async throws {
        let group = GroupEntry(id: 0, name: "pro", daily: Money(picos: 20_000_000), monthly: Money(picos: 1_000_000_000))
        try await withHarness(configure: Self.configure(group, balance: nil)) { harness in
            let small = #"{"model":"gpt-4o-mini","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}"#
            var served = 0
            while try await harness.send("/v1/chat/completions", body: small).status == 200 { served += 1 }
            // Each costs 8,550,000 and holds about 14,000,000 picodollars: one fits in 20,000,000.
            #expect(served == 1)
            let usage = try await harness.send("/v1/usage", method: .GET)
            #expect(usage.json["plan"] as? String == "pro")
            #expect(usage.json["remaining"] as? Double == 0.00001145)
            // The next UTC day opens a new daily window.
            harness.clock.advance(by: .seconds(86_400))
            #expect(try await harness.send("/v1/chat/completions", body: small).status == 200)
        }
    }
}
