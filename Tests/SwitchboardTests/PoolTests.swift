import AsyncHTTPClient
import Engine
import Foundation
import NIOCore
import NIOHTTP1
import Policy
import Storage
import SwitchboardApp
import SwitchboardCore
import SwitchboardTesting
import Testing

/// The account pool on loopback: several accounts on the fake upstream, real
/// failures, and a mock clock that ends cooldowns.
@Suite struct PoolTests {
    /// Two OpenAI accounts serving `gpt-4o-mini`: `first` (priority 0) answers as
    /// `firstModel` tells the fake, `second` (priority 1) answers normally.
    static func pair(firstModel: String, secondModel: String = "gpt-4o-mini") -> (Int) -> [Configuration.AccountDeclaration] {
        { port in
            let base = Harness.defaultAccounts(fakePort: port)[0]
            return [
                base.with(name: "first", models: ["gpt-4o-mini"], modelMap: ["gpt-4o-mini": firstModel], priority: 0),
                base.with(name: "second", models: ["gpt-4o-mini"], modelMap: ["gpt-4o-mini": secondModel], priority: 1),
            ]
        }
    }

    func status(_ harness: Harness, _ name: String) throws -> AccountStatus {
        try #require(harness.switchboard.gateway.accountStatus().first { $0.account.name == name }?.status)
    }

    /// A conversation of its own, so sticky sessions do not decide the account.
    static func chat(_ n: Int, stream: Bool = false) -> String {
        #"{"model":"gpt-4o-mini","stream":\#(stream),"messages":[{"role":"user","content":"conversation \#(n)"}]}"#
    }

    @Test func a429CoolsTheAccountForTheTimeItNamesThenItServesAgain() async throws {
        try await withHarness(accounts: Self.pair(firstModel: "fail-429")) { harness in
            let first = try await harness.send("/v1/chat/completions", body: Self.chat(1))
            #expect(first.status == 200)
            let row = try await harness.row(first.headers.first(name: "x-request-id"))
            #expect(row.accountName == "second" && row.route == "first=failed(rate_limited)")
            let cooling = try status(harness, "first")
            #expect(cooling.state == "cooling_down" && cooling.cooldownCause == "rate_limited")
            #expect(cooling.lastError == "upstream answered 429")
            // The fake says Retry-After: 7.
            let left = try #require(cooling.cooldownUntil).timeIntervalSince(harness.clock.now())
            #expect(left > 6 && left <= 7)

            let skipped = try await harness.send("/v1/chat/completions", body: Self.chat(2))
            let skippedRow = try await harness.row(skipped.headers.first(name: "x-request-id"))
            #expect(skippedRow.accountName == "second" && skippedRow.attempts == 1)
            #expect(skippedRow.route?.hasPrefix("first=cooling(rate_limited,") == true)
            #expect(harness.fake.received.filter { $0.body["model"] as? String == "fail-429" }.count == 1)

            harness.clock.advance(by: .seconds(7))
            #expect(try status(harness, "first").state == "ready")
            _ = try await harness.send("/v1/chat/completions", body: Self.chat(3))
            #expect(harness.fake.received.filter { $0.body["model"] as? String == "fail-429" }.count == 2)
        }
    }

    @Test func whenEveryAccountIsCoolingTheClientGets429WithTheSoonestRecovery() async throws {
        try await withHarness(accounts: Self.pair(firstModel: "fail-429", secondModel: "fail-529")) { harness in
            let failed = try await harness.send("/v1/chat/completions", body: Self.chat(1))
            #expect(failed.status == 529)  // the last failure class decides: overloaded
            let received = harness.fake.received.count
            // Both cool: first for 7 s (429), second for 5 s at most (overload, never over 10 s).
            #expect(try status(harness, "second").cooldownCause == "overloaded")
            let refused = try await harness.send("/v1/chat/completions", body: Self.chat(2))
            #expect(refused.status == 429)
            #expect((refused.json["error"] as? [String: Any])?["code"] as? String == "accounts_cooling_down")
            let retry = try #require(refused.headers.first(name: "retry-after").flatMap { Int($0) })
            #expect(retry >= 1 && retry <= 5)
            #expect(harness.fake.received.count == received, "no upstream request while every account cools")
        }
    }

    @Test func anUpstreamCredentialFailureMarksTheAccountUntilAnAdminEnablesIt() async throws {
        try await withHarness(accounts: Self.pair(firstModel: "fail-401")) { harness in
            let reply = try await harness.send("/v1/chat/completions", body: Self.chat(1))
            #expect(reply.status == 200)
            let marked = try status(harness, "first")
            #expect(marked.state == "unhealthy" && marked.reason == "upstream answered 401")
            harness.clock.advance(by: .seconds(86_400))
            _ = try await harness.send("/v1/chat/completions", body: Self.chat(2))
            #expect(harness.fake.received.filter { $0.body["model"] as? String == "fail-401" }.count == 1)

            // The CLI (another process) enables it: the running server clears the mark.
            _ = try await harness.switchboard.storeContext.store.setAccountEnabled(name: "first", enabled: true)
            await harness.switchboard.refresher.refreshIfChanged()
            #expect(try status(harness, "first").state == "ready")
        }
    }

    @Test func aClientsBadRequestDoesNotPoisonTheAccount() async throws {
        try await withHarness(accounts: Self.pair(firstModel: "fail-400")) { harness in
            for n in 0..<5 {
                let reply = try await harness.send("/v1/chat/completions", body: Self.chat(n))
                #expect(reply.status == 400)
            }
            let first = try status(harness, "first")
            #expect(first.state == "ready" && first.totalFailures == 0)
        }
    }

    @Test func repeatedTransientFailuresRestTheAccountBriefly() async throws {
        let accounts: (Int) -> [Configuration.AccountDeclaration] = { port in
            let base = Harness.defaultAccounts(fakePort: port)[0]
            return [
                base.with(name: "first", baseURL: "http://127.0.0.1:1/v1", models: ["gpt-4o-mini"], priority: 0),
                base.with(name: "second", models: ["gpt-4o-mini"], priority: 1),
            ]
        }
        try await withHarness(
            accounts: accounts,
            configure: {
                $0.pool.transientFailures = 2
                $0.pool.transientCooldown = .seconds(30)
            }
        ) { harness in
            for n in 0..<2 { #expect(try await harness.send("/v1/chat/completions", body: Self.chat(n)).status == 200) }
            let first = try status(harness, "first")
            #expect(first.state == "cooling_down" && first.cooldownCause == "transient_failures")
            let reply = try await harness.send("/v1/chat/completions", body: Self.chat(9))
            let row = try await harness.row(reply.headers.first(name: "x-request-id"))
            #expect(row.attempts == 1 && row.route?.hasPrefix("first=cooling(transient_failures") == true)
        }
    }

    @Test func aResetBeforeTheFirstByteFailsOver() async throws {
        let reset = try await ResetServer()
        let port = reset.port
        let accounts: (Int) -> [Configuration.AccountDeclaration] = { fakePort in
            let base = Harness.defaultAccounts(fakePort: fakePort)[0]
            return [
                base.with(name: "first", baseURL: "http://127.0.0.1:\(port)/v1", models: ["gpt-4o-mini"], priority: 0),
                base.with(name: "second", models: ["gpt-4o-mini"], priority: 1),
            ]
        }
        try await withHarness(accounts: accounts) { harness in
            for stream in [false, true] {
                let reply = try await harness.send("/v1/chat/completions", body: Self.chat(stream ? 1 : 2, stream: stream))
                #expect(reply.status == 200)
                let row = try await harness.row(reply.headers.first(name: "x-request-id"))
                #expect(row.accountName == "second" && row.route == "first=failed(transient)")
            }
        }
        try await reset.close()
    }

    @Test func aResetMidStreamEndsTheStreamWithAnErrorAndIsNotRetried() async throws {
        try await withHarness(accounts: Self.pair(firstModel: "drop-after-first-chunk")) { harness in
            let reply = try await harness.send("/v1/chat/completions", body: Self.chat(1, stream: true))
            #expect(reply.status == 200)
            #expect(reply.body.contains(#"data: {"error":"#))
            let row = try await harness.row(reply.headers.first(name: "x-request-id"))
            #expect(row.accountName == "first" && row.attempts == 1 && row.outcome == .upstreamError)
            #expect(try status(harness, "first").totalFailures == 1)
            #expect(harness.fake.received.count == 1)
        }
    }

    @Test func aSessionStaysOnItsAccountUntilThatAccountIsUnusable() async throws {
        try await withHarness(accounts: Self.pair(firstModel: "gpt-4o-mini")) { harness in
            let session = [("x-claude-code-session-id", "session-a")]
            var served: [String?] = []
            for n in 0..<3 {
                let reply = try await harness.send("/v1/chat/completions", body: Self.chat(n), headers: session)
                served.append(try await harness.row(reply.headers.first(name: "x-request-id")).accountName)
            }
            #expect(served == ["first", "first", "first"])
            // Disable the session's account: the session moves, and stays moved.
            _ = try await harness.switchboard.storeContext.store.setAccountEnabled(name: "first", enabled: false)
            await harness.switchboard.refresher.refreshIfChanged()
            let moved = try await harness.send("/v1/chat/completions", body: Self.chat(7), headers: session)
            #expect(try await harness.row(moved.headers.first(name: "x-request-id")).accountName == "second")
            _ = try await harness.switchboard.storeContext.store.setAccountEnabled(name: "first", enabled: true)
            await harness.switchboard.refresher.refreshIfChanged()
            let stays = try await harness.send("/v1/chat/completions", body: Self.chat(8), headers: session)
            let staysRow = try await harness.row(stays.headers.first(name: "x-request-id"))
            #expect(staysRow.accountName == "second", "\(String(describing: staysRow.accountName)) \(String(describing: staysRow.route))")
        }
    }

    @Test func concurrencyCapHoldsUnderLoadAndNoSlotLeaksOnDisconnect() async throws {
        let cap = 3
        let accounts: (Int) -> [Configuration.AccountDeclaration] = { port in
            [
                Harness.defaultAccounts(fakePort: port)[0].with(
                    name: "capped", models: ["short-slow-stream", "slow-stream"],
                    limits: AccountLimits(maxConcurrency: cap, maxWaiting: 10 * cap, waitTimeout: .seconds(60)))
            ]
        }
        try await withHarness(accounts: accounts) { harness in
            // 10×N clients at once: every one is served, never more than N at the upstream.
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for n in 0..<(10 * cap) {
                    group.addTask {
                        let body = #"{"model":"short-slow-stream","stream":true,"messages":[{"role":"user","content":"c\#(n)"}]}"#
                        return try await harness.send("/v1/chat/completions", body: body).status
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.count == 10 * cap && statuses.allSatisfy { $0 == 200 })
            #expect(harness.fake.peakInFlight(key: Harness.openAISecret) == cap)

            // Clients that walk away mid-stream give their slots back.
            harness.fake.reset()
            for n in 0..<cap {
                try await harness.startStreamAndLeave(#"{"model":"slow-stream","stream":true,"messages":[{"role":"user","content":"gone \#(n)"}]}"#)
            }
            for _ in 0..<200 {
                let state = try status(harness, "capped")
                if state.inFlight == 0 && harness.fake.currentInFlight == 0 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(try status(harness, "capped").inFlight == 0, "slots leaked after clients left")
            #expect(try status(harness, "capped").totalFailures == 0, "a client leaving is not the account's failure")
            #expect(try status(harness, "capped").state == "ready")
            // Full capacity again: N at once reach the upstream together.
            harness.fake.reset()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for n in 0..<cap {
                    group.addTask {
                        let body = #"{"model":"short-slow-stream","stream":true,"messages":[{"role":"user","content":"again \#(n)"}]}"#
                        _ = try await harness.send("/v1/chat/completions", body: body)
                    }
                }
                try await group.waitForAll()
            }
            #expect(harness.fake.peakInFlight(key: Harness.openAISecret) == cap)
        }
    }

    @Test func aFullAccountWithNoQueueIsRefusedWith429() async throws {
        let accounts: (Int) -> [Configuration.AccountDeclaration] = { port in
            [
                Harness.defaultAccounts(fakePort: port)[0].with(
                    name: "capped", models: ["short-slow-stream"], limits: AccountLimits(maxConcurrency: 1))
            ]
        }
        try await withHarness(accounts: accounts) { harness in
            async let long = harness.send(
                "/v1/chat/completions", body: #"{"model":"short-slow-stream","stream":true,"messages":[{"role":"user","content":"a"}]}"#)
            while harness.fake.currentInFlight == 0 { try await Task.sleep(for: .milliseconds(10)) }
            let refused = try await harness.send(
                "/v1/chat/completions", body: #"{"model":"short-slow-stream","messages":[{"role":"user","content":"b"}]}"#)
            #expect(refused.status == 429)
            #expect((refused.json["error"] as? [String: Any])?["code"] as? String == "accounts_at_capacity")
            #expect(refused.headers.first(name: "retry-after") != nil)
            #expect(try await long.status == 200)
        }
    }
}
