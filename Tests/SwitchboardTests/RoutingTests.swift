import Admin
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

/// Pools and bindings, models by pattern, Azure and custom credential headers:
/// where a request goes, checked by what the fake upstream received.
@Suite struct RoutingTests {
    static let token = "admin-token-0123456789abcdef"

    /// Two OpenAI accounts on the fake, told apart by a header each adds: `pro-1`
    /// in pool `pro` (and first by priority), `shared-1` in none.
    static func pooledAccounts(_ port: Int) -> [Configuration.AccountDeclaration] {
        var pro = Harness.defaultAccounts(fakePort: port)[0].with(name: "pro-1", priority: -1)
        pro.options.pools = ["pro"]
        pro.headers = ["x-served-by": "pro-1"]
        var shared = Harness.defaultAccounts(fakePort: port)[0].with(
            name: "shared-1", models: ["gpt-4o-mini", "shared-only"] + Harness.behaviourModels)
        shared.headers = ["x-served-by": "shared-1"]
        return [pro, shared]
    }

    static func key(_ name: String, _ secret: String, binding: AccountBinding? = nil, user: String? = nil) -> Configuration.KeyDeclaration {
        var policy = KeyPolicy()
        policy.binding = binding
        policy.user = user
        return .init(name: name, key: secret, policy: policy)
    }

    static let proKey = "sk-sb-pro-0123456789abcdefghijklmnop"
    static let fallbackKey = "sk-sb-fallback-0123456789abcdefghijk"
    static let userKey = "sk-sb-user-0123456789abcdefghijklmno"

    func servedBy(_ harness: Harness, model: String = "gpt-4o-mini", key: String) async throws -> (Int, String?) {
        harness.fake.reset()
        let reply = try await harness.send("/v1/chat/completions", body: Harness.chat(model), key: key)
        return (reply.status, harness.fake.received.last?.headers["x-served-by"])
    }

    @Test func poolsAreReservedForTheKeysBoundToThem() async throws {
        try await withHarness(
            accounts: Self.pooledAccounts,
            configure: { config in
                var team = UserEntry(id: 0, name: "team-a")
                team.binding = AccountBinding(pools: ["pro"])
                config.users = [team]
                config.keys += [
                    Self.key("pro", Self.proKey, binding: AccountBinding(pools: ["pro"])),
                    Self.key("fallback", Self.fallbackKey, binding: AccountBinding(accounts: ["pro-1"], fallbackToShared: true)),
                    Self.key("of-team-a", Self.userKey, user: "team-a"),
                ]
            }
        ) { harness in
            // Unbound: only shared accounts, though the pooled one ranks first.
            #expect(try await servedBy(harness, key: Harness.key) == (200, "shared-1"))
            // Bound to the pool: only its accounts; a model only shared accounts serve does not exist for it.
            #expect(try await servedBy(harness, key: Self.proKey) == (200, "pro-1"))
            #expect(try await servedBy(harness, model: "shared-only", key: Self.proKey).0 == 404)
            // A user's binding holds for its keys.
            #expect(try await servedBy(harness, key: Self.userKey) == (200, "pro-1"))
            // With fallback: the bound account first; shared ones when it cannot serve.
            #expect(try await servedBy(harness, key: Self.fallbackKey) == (200, "pro-1"))
            #expect(try await servedBy(harness, model: "shared-only", key: Self.fallbackKey) == (200, "shared-1"))
            // A bound account that fails: the pro key has nowhere else to go, the fallback key does.
            harness.fake.reset()
            let failed = try await harness.send("/v1/chat/completions", body: Harness.chat("fail-500"), key: Self.proKey)
            #expect(failed.status >= 500)
            #expect(harness.fake.received.allSatisfy { $0.headers["x-served-by"] == "pro-1" })
            harness.fake.reset()
            _ = try await harness.send("/v1/chat/completions", body: Harness.chat("fail-500"), key: Self.fallbackKey)
            #expect(harness.fake.received.map { $0.headers["x-served-by"] ?? "" } == ["pro-1", "shared-1"], "the shared account after the bound one")
            // /v1/models: what each key can reach.
            let unbound = try await harness.send("/v1/models", method: .GET, key: Harness.key)
            let proModels = try await harness.send("/v1/models", method: .GET, key: Self.proKey)
            func ids(_ reply: Harness.Reply) -> Set<String> { Set((reply.json["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }) }
            #expect(ids(unbound).contains("shared-only") && !ids(proModels).contains("shared-only") && ids(proModels).contains("gpt-4o-mini"))
        }
    }

    @Test func bindingsAreReadAndRefusedByTheSettingsReaders() throws {
        var policy = try KeySettings.apply(["pools": .array([.string("pro")]), "fallback_to_shared": .bool(true)], to: KeyPolicy()).policy
        #expect(policy.binding == AccountBinding(pools: ["pro"], fallbackToShared: true))
        policy = try KeySettings.apply(["pools": .null], to: policy).policy
        #expect(policy.binding == nil, "no pools and no accounts: unbound")
        #expect(throws: AdminError.self) { try KeySettings.apply(["fallback_to_shared": .bool(true)], to: KeyPolicy()) }
        #expect(throws: AdminError.self) { try KeySettings.apply(["pools": .array([.string("")])], to: KeyPolicy()) }
        let user = try UserSettings.apply(["accounts": .array([.string("a-1")])], to: UserEntry(id: 1, name: "u"))
        #expect(user.binding == AccountBinding(accounts: ["a-1"]))
        let group = try GroupSettings.apply(["pools": .array([.string("p")])], to: GroupEntry(id: 1, name: "g"))
        #expect(group.binding == AccountBinding(pools: ["p"]))
        // The key's own binding first, then its user's, then its group's.
        var owner = Owner(user: user, group: group)
        #expect(AccountBinding.effective(key: KeyPolicy(), owner: owner) == user.binding)
        owner.user.binding = nil
        #expect(AccountBinding.effective(key: KeyPolicy(), owner: owner) == group.binding)
        var own = KeyPolicy()
        own.binding = AccountBinding(pools: ["mine"])
        #expect(AccountBinding.effective(key: own, owner: owner) == own.binding)
    }

    @Test func globsMatchAndCarryWhatTheirStarsMatched() {
        #expect(Glob.captures("claude-3-5-*", "claude-3-5-sonnet-latest") == ["sonnet-latest"])
        #expect(Glob.captures("*-*", "a-b-c") == ["a", "b-c"], "shortest first")
        #expect(Glob.captures("gpt-?o", "gpt-4o") == [])
        #expect(Glob.captures("claude-*", "gpt-4o") == nil)
        // A pattern that would backtrack exponentially ends at once.
        #expect(Glob.captures(String(repeating: "*a", count: 30) + "b", String(repeating: "a", count: 200)) == nil)
        #expect(Glob.substitute("anthropic/claude-*", captures: ["opus-4"]) == "anthropic/claude-opus-4")

        var account = AccountEntry(
            id: 1, name: "a", provider: .openai, baseURL: "", secret: "s", models: ["claude-*"],
            modelMap: ["claude-3-5-*": "claude-sonnet-4-5", "claude-*": "vendor/claude-*", "claude-exact": "pinned"])
        #expect(account.upstreamModel(for: "claude-3-5-haiku") == "claude-sonnet-4-5", "the longest glob wins")
        #expect(account.upstreamModel(for: "claude-opus-4") == "vendor/claude-opus-4")
        #expect(account.upstreamModel(for: "claude-exact") == "pinned", "an exact entry before any glob")
        #expect(account.upstreamModel(for: "gpt-4o") == "gpt-4o")
        account.options.modelList = ["claude-opus-4", "gpt-4o", "claude-haiku-4-5"]
        #expect(account.concreteModels == ["claude-opus-4", "claude-haiku-4-5"], "only what its globs admit")

        let named = AccountEntry(id: 2, name: "b", provider: .anthropic, baseURL: "", secret: "s", models: ["claude-opus-4"], priority: 5)
        let wildcard = AccountEntry(id: 3, name: "c", provider: .openai, baseURL: "", secret: "s", models: ["*"], priority: -1)
        let directory = AccountDirectory(accounts: [account, named, wildcard])
        #expect(directory.listing("claude-opus-4").map(\.name) == ["c", "a", "b"], "by priority, named or globbed")
        #expect(directory.listing("claude-opus-4").map(\.name) == ["c", "a", "b"], "the same from the memo")
        #expect(directory.listing("anything").map(\.name) == ["c"])
        #expect(AccountDirectory(accounts: [named]).listing("claude-opus-5").isEmpty)
        #expect(throws: AdminError.self, "a target cannot carry more than its source matched") {
            try AccountSettings(json: ["model_map": .object(["exact": .string("x-*")])], name: "a")
        }
    }

    /// Hostile model names cannot grow the selection memo: names that match
    /// the same globs share one selection, long names are not remembered, and
    /// the names remembered are bounded.
    @Test func randomModelNamesShareOneRememberedSelection() {
        let accounts = (1...500).map { id in
            AccountEntry(id: Int64(id), name: "a-\(id)", provider: .openai, baseURL: "", secret: "s", models: id == 1 ? ["exact"] : ["*"])
        }
        let directory = AccountDirectory(accounts: accounts)
        for index in 0..<10_000 { _ = directory.select(model: "random-\(index)", dialect: .openAIChat, translate: true) }
        _ = directory.select(model: String(repeating: "x", count: 1 << 20), dialect: .openAIChat, translate: true)
        let remembered = directory.remembered
        #expect(remembered.selections == 1 && remembered.candidates == 499, "one signature: only * matches")
        #expect(remembered.names <= 4096)
        guard case .candidates(let exact, _) = directory.select(model: "exact", dialect: .openAIChat, translate: true) else {
            Issue.record("exact")
            return
        }
        #expect(exact.count == 500 && directory.remembered.selections == 2)
    }

    @Test func globAccountsServeAndMapAndListTheirModelList() async throws {
        try await withHarness(
            accounts: { port in
                var account = Harness.defaultAccounts(fakePort: port)[0].with(models: ["gpt-*"], modelMap: ["gpt-5-*": "gpt-4o-*"])
                account.options.modelList = ["gpt-4o-mini", "gpt-5-nano", "text-embedding-3-small"]
                return [account]
            }
        ) { harness in
            let reply = try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-5-mini"))
            #expect(reply.status == 200)
            #expect(harness.fake.received.last?.body["model"] as? String == "gpt-4o-mini", "the glob map carried `mini` over")
            #expect(try await harness.send("/v1/chat/completions", body: Harness.chat("claude-x")).status == 404)
            let models = try await harness.send("/v1/models", method: .GET)
            let ids = (models.json["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            #expect(ids == ["gpt-4o-mini", "gpt-5-nano"], "the model list, as far as the globs admit it")
        }
    }

    @Test func aFailoverCrossesToAnAccountOfAnotherFormatForTheSameModel() async throws {
        try await withHarness(
            accounts: { port in
                let defaults = Harness.defaultAccounts(fakePort: port)
                return [defaults[0].with(models: ["dual"], modelMap: ["dual": "fail-500"]), defaults[1].with(models: ["dual"], priority: 5)]
            }
        ) { harness in
            let reply = try await harness.send("/v1/chat/completions", body: Harness.chat("dual"))
            #expect(reply.status == 200 && reply.json["object"] as? String == "chat.completion", "translated back to the client's format")
            #expect(harness.fake.received.map(\.path) == ["/v1/chat/completions", "/v1/messages"], "its own format first, then the other")
            let row = try await harness.row(reply.headers.first(name: "x-request-id"))
            #expect(row.accountName == "anthropic-1" && row.attempts == 2)
        }
    }

    @Test func aProvidersFailoverLimitSendsTheRestToOtherProviders() async throws {
        let accounts: (Int) -> [Configuration.AccountDeclaration] = { port in
            let defaults = Harness.defaultAccounts(fakePort: port)
            let failing = defaults[0].with(models: ["dual"], modelMap: ["dual": "fail-500"])
            return [failing.with(name: "openai-a"), failing.with(name: "openai-b"), defaults[1].with(models: ["dual"], priority: 5)]
        }
        let uncapped = ["/v1/chat/completions", "/v1/chat/completions", "/v1/messages"]
        let capped = ["/v1/chat/completions", "/v1/messages"]
        // No cap; a cap from the config file; a cap set through the admin API and then removed.
        for (cap, paths) in [(nil, uncapped), (0, capped)] {
            try await withHarness(accounts: accounts, configure: { config in if let cap { config.providerFailovers = [.openai: cap] } }) { harness in
                let reply = try await harness.send("/v1/chat/completions", body: Harness.chat("dual"))
                #expect(reply.status == 200)
                #expect(harness.fake.received.map(\.path) == paths, "cap \(String(describing: cap))")
            }
        }
        let token = "admin-token-0123456789abcdef"
        try await withHarness(accounts: accounts, configure: { $0.adminToken = token }) { harness in
            let set = try await harness.admin("/providers/openai", method: .PUT, body: #"{"max_failovers": 0}"#, token: token)
            #expect(set.status == 200 && set.json["max_failovers"] as? Int == 0)
            #expect(try await harness.send("/v1/chat/completions", body: Harness.chat("dual")).status == 200)
            #expect(harness.fake.received.map(\.path) == capped)
            let listed = try await harness.admin("/providers", token: token)
            #expect(
                listed.body.contains(#""max_failovers":0,"provider":"openai""#) || listed.body.contains(#""provider":"openai","max_failovers":0"#))
            #expect(try await harness.admin("/providers/bedrock", method: .PUT, body: #"{"max_failovers": 0}"#, token: token).status == 400)
            #expect(try await harness.admin("/providers/openai", method: .PUT, body: #"{"max_failovers": -1}"#, token: token).status == 400)
            #expect(try await harness.admin("/providers/openai", method: .DELETE, token: token).status == 204)
            #expect(try await harness.admin("/providers/openai", method: .DELETE, token: token).status == 404)
            harness.fake.reset()
            #expect(try await harness.send("/v1/chat/completions", body: Harness.chat("dual")).status == 200)
            #expect(harness.fake.received.map(\.path) == uncapped)
        }
        let config = try loadConfiguration("providers:\n  openai: {max_failovers: 1}\n", environment: [:])
        #expect(config.providerFailovers == [.openai: 1])
        #expect(throws: (any Error).self) { try loadConfiguration("providers:\n  bedrock: {max_failovers: 1}\n", environment: [:]) }
    }

    @Test func azureAccountsGoToTheirDeploymentWithAnAPIKeyHeader() async throws {
        try await withHarness(
            accounts: { port in
                var azure = AccountDefinition(
                    name: "azure-1", provider: .azure, baseURL: "http://127.0.0.1:\(port)", apiKey: Harness.openAISecret,
                    models: ["gpt-4o-mini", "pinned"])
                azure.modelMap = ["pinned": "gpt-4o"]
                return [azure]
            }
        ) { harness in
            let reply = try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini"))
            #expect(reply.status == 200)
            let sent = try #require(harness.fake.received.last)
            #expect(sent.path == "/openai/deployments/gpt-4o-mini/chat/completions" && sent.query == "api-version=2024-10-21")
            #expect(sent.headers["api-key"] == Harness.openAISecret && sent.headers["authorization"] == nil)
            // A stream in, a stream out, metered as OpenAI's.
            let stream = try await harness.send("/v1/chat/completions", body: Harness.chat("pinned", stream: true))
            #expect(stream.status == 200 && stream.body.contains("data: [DONE]"))
            #expect(harness.fake.received.last?.path == "/openai/deployments/gpt-4o/chat/completions")
            // An Anthropic client's request is translated for it.
            let translated = try await harness.send("/v1/messages", body: Harness.messages("gpt-4o-mini"))
            #expect(translated.status == 200 && translated.json["type"] as? String == "message")
        }
        try await withHarness(
            accounts: { port in
                var azure = AccountDefinition(
                    name: "azure-2", provider: .azure, baseURL: "http://127.0.0.1:\(port)/", apiKey: Harness.openAISecret, models: ["gpt-4o-mini"])
                azure.options.deployment = "team-{model}"
                azure.options.apiVersion = "2025-04-01-preview"
                return [azure]
            }
        ) { harness in
            #expect(try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini")).status == 200)
            let sent = try #require(harness.fake.received.last)
            #expect(sent.path == "/openai/deployments/team-gpt-4o-mini/chat/completions" && sent.query == "api-version=2025-04-01-preview")
        }
        #expect(throws: AdminError.self, "Azure needs its resource's endpoint") {
            try AccountSettings(json: ["provider": .string("azure"), "models": .array([.string("m")])], name: "a").definition(requireSecret: false)
        }
        #expect(throws: AdminError.self, "deployment is Azure's") {
            try AccountSettings(
                json: ["provider": .string("openai"), "models": .array([.string("m")]), "deployment": .string("d")], name: "a"
            ).definition(requireSecret: false)
        }
        #expect(throws: AdminError.self) { try AccountSettings(json: ["deployment": .string("../x")], name: "a") }
    }

    @Test func aCustomCredentialHeaderCarriesTheBareSecret() async throws {
        try await withHarness(
            accounts: { port in
                var account = Harness.defaultAccounts(fakePort: port)[0]
                account.options.authHeader = "x-portal-key"
                return [account]
            }
        ) { harness in
            harness.fake.openAIKeyHeader = "x-portal-key"
            #expect(try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini")).status == 200)
            let sent = try #require(harness.fake.received.last)
            #expect(sent.headers["x-portal-key"] == Harness.openAISecret && sent.headers["authorization"] == nil)
        }
        #expect(throws: AdminError.self) { try AccountSettings(json: ["auth_header": .string("content-length")], name: "a") }
        #expect(throws: AdminError.self) { try AccountSettings(json: ["auth_header": .string("bad header")], name: "a") }
    }

    @Test func syncModelsFillsTheModelListFromTheUpstream() async throws {
        try await withHarness(
            accounts: { port in
                [
                    Harness.defaultAccounts(fakePort: port)[0].with(models: ["*"]),
                    Harness.geminiAccount(fakePort: port).with(models: ["gemini-*"]),
                ]
            },
            configure: { $0.adminToken = Self.token }
        ) { harness in
            let synced = try await harness.admin("/accounts/openai-1/sync_models", method: .POST, body: nil, token: Self.token)
            #expect(synced.status == 200 && synced.json["model_list"] as? [String] == ["gpt-4o-mini"])
            let gemini = try await harness.admin("/accounts/gemini-1/sync_models", method: .POST, body: nil, token: Self.token)
            #expect(gemini.json["model_list"] as? [String] == ["gemini-2.5-flash"], "without the models/ prefix")
            let listed = try await harness.send("/v1/models", method: .GET)
            let ids = (listed.json["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            #expect(ids == ["gemini-2.5-flash", "gpt-4o-mini"])
            harness.fake.refusedKeys = [Harness.openAISecret]
            let refused = try await harness.admin("/accounts/openai-1/sync_models", method: .POST, body: nil, token: Self.token)
            #expect(refused.status == 503 && refused.body.contains("401") && !refused.body.contains(Harness.openAISecret))
        }
    }
}

@Suite struct AccountQueueKeepaliveTests {
    /// A streaming request queued for a slot on a full account hears the
    /// dialect's keepalive while it waits, as one queued for a key slot does.
    @Test(arguments: [("/v1/chat/completions", true), ("/v1/messages", false)])
    func aStreamWaitingForAnAccountSlotGetsKeepalivesThenItsStream(path: String, openAI: Bool) async throws {
        try await withHarness(
            accounts: { port in
                let account = Harness.defaultAccounts(fakePort: port)[openAI ? 0 : 1]
                return [account.with(limits: AccountLimits(maxConcurrency: 1, maxWaiting: 2, waitTimeout: .seconds(30)))]
            },
            configure: { $0.keepaliveInterval = .milliseconds(200) }
        ) { harness in
            let row = try await queuedStreamGetsKeepalivesThenItsStream(harness, path: path, openAI: openAI)
            #expect(harness.fake.peakInFlight == 1, "the account's cap held")
            #expect(row.outcome == .ok && row.usage.output > 0 && row.selection == "waited")
        }
    }
}

extension AccountQueueKeepaliveTests {
    /// A streaming client that leaves while it waits for an account slot is
    /// settled as gone: one row, its key lease and queue place given back.
    @Test func aClientLeavingWhileQueuedForAnAccountLeavesOneRowAndNoLease() async throws {
        try await withHarness(
            accounts: { port in
                [Harness.defaultAccounts(fakePort: port)[0].with(limits: AccountLimits(maxConcurrency: 1, maxWaiting: 2, waitTimeout: .seconds(30)))]
            },
            configure: { $0.keepaliveInterval = .milliseconds(200) }
        ) { harness in
            async let first = harness.send("/v1/chat/completions", body: Harness.chat("held-stream", stream: true))
            try await harness.eventually { harness.fake.currentInFlight == 1 }
            var request = HTTPClientRequest(url: harness.base + "/v1/chat/completions")
            request.method = .POST
            request.headers.add(name: "authorization", value: "Bearer \(Harness.key)")
            request.body = .bytes(ByteBuffer(string: Harness.chat("gpt-4o-mini", stream: true)))
            // The head and one keepalive heard, then the client hangs up.
            let reader = Task {
                let response = try await harness.client.execute(request, timeout: .seconds(30))
                let id = response.headers.first(name: "x-request-id")
                async let keepalive: Void = { for try await _ in response.body { break } }()
                try await harness.tick(.milliseconds(200), whenSleepers: 2)
                try await keepalive
                return id
            }
            let id = try await reader.value
            // The next keepalives find it gone (a write or two may still land in the socket's buffer).
            for _ in 0..<5 where harness.switchboard.ledger.openCount > 1 {
                try await harness.tick(.milliseconds(200), whenSleepers: 2)
            }
            let row = try await harness.row(id)
            #expect(row.outcome == .clientDisconnected && row.accountName == nil)
            harness.fake.releaseHeld()
            #expect(try await first.status == 200)
        }
    }
}

/// Cache-aware stickiness: a new session whose prompt starts as a recent one's
/// goes where that prompt is cached, so a fake upstream that models a prompt
/// cache per account reports more cache reads.
@Suite struct CacheAffinityTests {
    /// Six long system prompts, each opening four new sessions, one after
    /// another, over two accounts of equal weight; the share of requests the
    /// upstream served from its cache.
    func hits(cachePrefixBytes: Int) async throws -> (hits: Int, prefixChoices: Int, ratio: Double, saved: Money) {
        var result = (hits: 0, prefixChoices: 0, ratio: 0.0, saved: Money.zero)
        try await withHarness(
            accounts: { port in
                let account = Harness.defaultAccounts(fakePort: port)[0]
                var second = account.with(name: "openai-2")
                second.apiKey = Harness.anthropicSecret  // another upstream key: its own cache
                return [account, second]
            },
            configure: { $0.cachePrefixBytes = cachePrefixBytes }
        ) { harness in
            harness.fake.modelsPrefixCache = true
            var ids: [String?] = []
            for prompt in 0..<6 {
                let system = "You are assistant number \(prompt). " + String(repeating: "Follow the house rules carefully. ", count: 200)
                for session in 0..<4 {
                    let body =
                        #"{"model":"gpt-4o-mini","messages":[{"role":"system","content":"\#(system)"},{"role":"user","content":"question \#(session)"}]}"#
                    let reply = try await harness.send("/v1/chat/completions", body: body, headers: [("session-id", "s-\(prompt)-\(session)")])
                    #expect(reply.status == 200)
                    ids.append(reply.headers.first(name: "x-request-id"))
                }
            }
            for id in ids {
                let row = try await harness.row(id)
                if row.usage.cacheRead > 0 { result.hits += 1 }
                if row.selection == "prefix" { result.prefixChoices += 1 }
            }
            // What admins read: the key's cache-hit ratio and the dollars its cache reads saved.
            let store = harness.switchboard.storeContext.store
            let hour = StatsRequest(from: Date().addingTimeInterval(-3600), to: Date().addingTimeInterval(3600), interval: .hour)
            let statsAdmin = StatsAdmin(store: store, gateway: harness.switchboard.gateway)
            let stats = try await statsAdmin.key("test-key", hour)
            result.ratio = stats.cacheHitRatio ?? 0
            result.saved = try #require(Money(dollars: stats.cacheSavedUsd))
            #expect(stats.models?.first?.cacheSavedUsd == stats.cacheSavedUsd, "one model: its savings are the key's")
            // The same savings seen per account and per session.
            var byAccount = Money.zero
            for account in ["openai-1", "openai-2"] {
                byAccount += try #require(Money(dollars: try await statsAdmin.account(account, hour).cacheSavedUsd))
            }
            #expect(byAccount == result.saved)
            var query = LedgerQuery()
            query.keyName = "test-key"
            query.limit = 100
            let sessions = try await RequestAdmin(store: store).sessions(query).sessions
            #expect(sessions.count == 24 && sessions.allSatisfy { $0.requests == 1 && $0.accounts.count == 1 && $0.key == "test-key" })
            #expect(sessions.compactMap { Money(dollars: $0.cacheSavedUsd) }.reduce(.zero, +) == result.saved)
            #expect(sessions.filter { ($0.cacheHitRatio ?? 0) > 0 }.count == result.hits, "a session read the cache where its request did")
            // One session's requests, found by the session the view names.
            query.session = try #require(sessions.first?.session)
            #expect(try await RequestAdmin(store: store).list(query).requests.map(\.session) == [sessions.first?.session])
        }
        return result
    }

    @Test func aSessionIsEachKeysOwnAndNamesItsAccountsWhole() async throws {
        let token = "admin-token-0123456789abcdef"
        try await withHarness(
            accounts: { port in [Harness.defaultAccounts(fakePort: port)[0].with(name: "openai, the first")] },
            configure: { $0.adminToken = token }
        ) { harness in
            let created = try await harness.admin("/keys", method: .POST, body: #"{"name": "second-key"}"#, token: token)
            let second = try #require(created.json["api_key"] as? String)
            for key in [Harness.key, second] {
                let reply = try await harness.send(
                    "/v1/chat/completions", body: Harness.chat("gpt-4o-mini"), key: key, headers: [("session-id", "same-name")])
                _ = try await harness.row(reply.headers.first(name: "x-request-id"))
            }
            let sessions = try await RequestAdmin(store: harness.switchboard.storeContext.store).sessions(LedgerQuery()).sessions
            #expect(sessions.count == 2 && Set(sessions.map(\.session)).count == 1, "one digest, two keys: two sessions")
            #expect(Set(sessions.compactMap(\.key)) == ["test-key", "second-key"])
            #expect(sessions.allSatisfy { $0.accounts == ["openai, the first"] && $0.requests == 1 })
        }
    }

    @Test func aSessionNameSentByAnotherKeyNeitherFollowsNorMovesIt() async throws {
        let token = "admin-token-0123456789abcdef"
        try await withHarness(
            accounts: { port in
                let account = Harness.defaultAccounts(fakePort: port)[0]
                return [account, account.with(name: "openai-2")]
            },
            configure: { $0.adminToken = token }
        ) { harness in
            let created = try await harness.admin("/keys", method: .POST, body: #"{"name": "other-key"}"#, token: token)
            let other = try #require(created.json["api_key"] as? String)
            func send(_ key: String) async throws -> LedgerRow {
                let reply = try await harness.send(
                    "/v1/chat/completions", body: Harness.chat("gpt-4o-mini"), key: key, headers: [("session-id", "guessable")])
                return try await harness.row(reply.headers.first(name: "x-request-id"))
            }
            let first = try await send(Harness.key)
            #expect(first.selection != "session", "new to the gateway")
            let otherFirst = try await send(other)
            #expect(otherFirst.selection != "session", "another key's session of the same name is its own")
            for _ in 0..<3 {
                let again = try await send(Harness.key)
                #expect(again.selection == "session" && again.accountName == first.accountName, "the first key's session stays put")
                let otherAgain = try await send(other)
                #expect(otherAgain.selection == "session" && otherAgain.accountName == otherFirst.accountName)
            }
            #expect(otherFirst.session == first.session, "one digest in the ledger")
        }
    }

    @Test func aNewSessionGoesWhereItsPromptIsCached() async throws {
        let with = try await hits(cachePrefixBytes: 4096)
        let without = try await hits(cachePrefixBytes: 0)
        // With the preference each prompt misses once (6 of 24); without, once on each account.
        #expect(with.hits == 18 && with.prefixChoices == 18, "\(with)")
        #expect(without.hits == 12 && without.prefixChoices == 0, "\(without)")
        #expect(with.ratio > without.ratio && without.ratio > 0 && with.saved > without.saved && without.saved > .zero)
    }
}
