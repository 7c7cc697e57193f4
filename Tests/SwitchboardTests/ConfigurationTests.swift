import Engine
import Foundation
import Policy
import SwitchboardApp
import SwitchboardCore
import Testing

@Suite struct ConfigurationTests {
    /// The example from the README, verbatim.
    static let example = """
        listen: 127.0.0.1:8080
        database: sqlite:switchboard-data/switchboard.db
        accounts:
          - name: openai-1
            provider: openai            # openai (any OpenAI-compatible base URL) | anthropic | gemini
            base_url: http://127.0.0.1:9001/v1
            api_key: sk-upstream-1
            models: [gpt-4o-mini]
          - name: anthropic-1
            provider: anthropic
            base_url: http://127.0.0.1:9001
            api_key: sk-ant-upstream-1
            models: [claude-sonnet-4-5]
        keys:
          - name: laptop-1
            key: sk-sb-laptop-0123456789abcdef
        """

    func load(_ text: String, environment: [String: String] = [:]) throws -> Configuration {
        try loadConfiguration(text, environment: environment)
    }

    @Test func theReadmeExampleLoadsAsWritten() throws {
        let config = try load(Self.example)
        #expect(try config.listenAddress() == ("127.0.0.1", 8080))
        #expect(try config.databaseLocation() == .sqlite(path: "switchboard-data/switchboard.db"))
        #expect(try config.resolvedDataDirectory() == "switchboard-data")
        #expect(config.accounts.map(\.name) == ["openai-1", "anthropic-1"])
        #expect(config.accounts[0].provider == .openai && config.accounts[0].baseURL == "http://127.0.0.1:9001/v1")
        #expect(config.accounts[1].models == ["claude-sonnet-4-5"] && config.accounts[1].apiKey == "sk-ant-upstream-1")
        #expect(config.keys.map(\.key) == ["sk-sb-laptop-0123456789abcdef"])
        #expect(config.maxBodyBytes == 32 * 1024 * 1024)
    }

    @Test func environmentOverridesEverySetting() throws {
        let config = try load(
            Self.example,
            environment: [
                "SWITCHBOARD_LISTEN": "0.0.0.0:9999", "SWITCHBOARD_DATABASE": "sqlite:/tmp/x.db",
                "SWITCHBOARD_MAX_BODY_SIZE": "1MiB", "SWITCHBOARD_MAX_FAILOVERS": "1", "SWITCHBOARD_FIRST_BYTE_TIMEOUT": "90s",
                "SWITCHBOARD_STREAM_IDLE_TIMEOUT": "5m", "SWITCHBOARD_CONNECT_TIMEOUT": "500ms", "SWITCHBOARD_SHUTDOWN_TIMEOUT": "2",
                "SWITCHBOARD_LOG_LEVEL": "debug", "SWITCHBOARD_DATA_DIR": "/tmp/data", "SWITCHBOARD_PRICES_FILE": "/tmp/p.json",
                "SWITCHBOARD_ACCOUNT_OPENAI_1_API_KEY": "sk-from-env", "SWITCHBOARD_KEY_LAPTOP_1": "sk-sb-from-env",
                "SWITCHBOARD_MASTER_KEY": "mk",
            ])
        #expect(config.listen == "0.0.0.0:9999")
        #expect(try config.databaseLocation() == .sqlite(path: "/tmp/x.db"))
        #expect(config.maxBodyBytes == 1 << 20)
        #expect(config.maxFailovers == 1)
        #expect(config.firstByteTimeout == .seconds(90))
        #expect(config.streamIdleTimeout == .seconds(300))
        #expect(config.connectTimeout == .milliseconds(500))
        #expect(config.shutdownTimeout == .seconds(2))
        #expect(config.logLevel == "debug")
        #expect(config.dataDirectory == "/tmp/data" && config.pricesFile == "/tmp/p.json")
        #expect(config.accounts[0].apiKey == "sk-from-env" && config.keys[0].key == "sk-sb-from-env")
        #expect(config.masterKey == "mk")
    }

    @Test func trustedProxiesAndLoginAttemptsAreReadAndChecked() throws {
        let config = try load("trusted_proxies: [127.0.0.1, 10.0.0.0/8]\nadmin_login_attempts: 50\n")
        #expect(config.trustedProxies == [CIDR("127.0.0.1")!, CIDR("10.0.0.0/8")!])
        #expect(config.adminLoginAttempts == 50)
        #expect(try load("", environment: ["SWITCHBOARD_TRUSTED_PROXIES": "fd00::/8, 192.0.2.1"]).trustedProxies.count == 2)
        #expect(throws: ConfigurationError.self) { try load("trusted_proxies: [proxy.lan]\n") }
        #expect(throws: ConfigurationError.self) { try load("admin_login_attempts: 0\n") }
    }

    @Test func tracingIsOffUnlessAnEndpointIsGivenAndTheEndpointIsChecked() throws {
        #expect(try load("").otlpTracesURL() == nil)
        #expect(try load("otlp_endpoint: http://127.0.0.1:4318\n").otlpTracesURL() == "http://127.0.0.1:4318/v1/traces")
        #expect(try load("otlp_endpoint: https://otel.internal:4318/\n").otlpTracesURL() == "https://otel.internal:4318/v1/traces")
        let own = try load("", environment: ["SWITCHBOARD_OTLP_ENDPOINT": "http://c:4318/custom/traces", "SWITCHBOARD_PROPAGATE_TRACE": "true"])
        #expect(try own.otlpTracesURL() == "http://c:4318/custom/traces" && own.propagateTrace)
        for bad in ["127.0.0.1:4318", "ftp://c:4318", "http://user:secret@c:4318", "http://", "http://c:4318/?token=x"] {
            #expect(throws: ConfigurationError.self, "\(bad) was accepted") { try load("otlp_endpoint: \"\(bad)\"\n") }
        }
    }

    /// One settings type per record reads every source: the file's mistakes are
    /// the admin API's, word for word, with the file's place in front.
    @Test func theFileAndTheAdminAPIReadSettingsAlike() throws {
        let account = "accounts:\n  - name: a\n    provider: openai\n    api_key: sk-x\n    models: [m]\n"
        for (field, value) in [("max_rpm", "0"), ("wait_timeout", "soon"), ("intercept_warmup", "maybe"), ("priority", "high"), ("rpm", "5")] {
            let fromFile = try #require(throws: ConfigurationError.self) { try load(account + "    \(field): \(value)\n") }
            let fromAPI = try #require(throws: AdminError.self) { try AccountSettings(json: ["name": .string("a"), field: .string(value)]) }
            #expect(fromFile.description.hasSuffix(fromAPI.description) && fromFile.description.hasPrefix("accounts[0]"), "\(field)")
        }
        let key = "keys:\n  - name: k\n    key: sk-sb-0123456789abcdefghijklmnop\n"
        for (field, value) in [("concurrency", "0"), ("daily_cost_usd", "-1"), ("on_expiry", "never"), ("rate_limit", "{window_minutes: 0}")] {
            let fromFile = try #require(throws: ConfigurationError.self) { try load(key + "    \(field): \(value)\n") }
            let json: JSONValue = field == "rate_limit" ? .object(["window_minutes": .number(0)]) : .string(value)
            let fromAPI = try #require(throws: AdminError.self) { try KeySettings.apply([field: json], to: KeyPolicy()) }
            #expect(fromFile.description.hasSuffix(fromAPI.description) && fromFile.description.hasPrefix("keys[0]"), "\(field)")
        }
        // A number from the environment reads as a number, where the API takes it too.
        let fromEnvironment = try load(key + "    concurrency: ${CONCURRENCY}\n    expires_in_days: 30\n", environment: ["CONCURRENCY": "3"])
        #expect(fromEnvironment.keys[0].policy.concurrency == 3 && fromEnvironment.keys[0].expiresInDays == 30)
        #expect(try KeySettings.apply(["concurrency": .string("3")], to: KeyPolicy()).policy.concurrency == 3)
        #expect(throws: ConfigurationError.self) { try load(key + "    expires_in_days: 30\n    expires_at: 2030-01-01T00:00:00Z\n") }
        #expect(throws: ConfigurationError.self) { try load(key + "    enabled: false\n") }
        // Address rules on keys and users.
        let ranged = try load(key + "    ip_allow: [10.0.0.0/8, \"2001:db8::/32\"]\nusers:\n  - name: u\n    ip_deny: [192.0.2.1]\n")
        #expect(ranged.keys[0].policy.ipAllow?.map(\.description) == ["10.0.0.0/8", "2001:db8::/32"])
        #expect(ranged.users[0].addresses.deny?.map(\.description) == ["192.0.2.1"])
        #expect { try load(key + "    ip_allow: [10.0.0.0/40]\n") } throws: { "\($0)".hasPrefix("keys[0].ip_allow must list address ranges") }
        #expect { try load("users:\n  - name: u\n    ip_deny: [nowhere]\n") } throws: { "\($0)".hasPrefix("users[0].ip_deny must list") }
    }

    @Test func budgetShapesAreReadFromTheFileAsTheAPIReadsThem() throws {
        let config = try load(
            """
            groups:
              - name: resellers
                multiplier: 1.2
                price_multiplier: {"claude-opus-*": 2, "gpt-5*": "0.5"}
            users:
              - name: team
                group: resellers
                concurrency: 4
                max_waiting: ${WAITING}
                model_budgets: {"claude-opus-*": {daily_usd: 10, monthly_usd: "100"}}
            keys:
              - name: k
                key: sk-sb-0123456789abcdefghijklmnop
                budget_usd: 50
                budget_duration: 30d
                model_budgets: {"gpt-5*": {weekly_usd: 5}}
            """, environment: ["WAITING": "20"])
        #expect(config.groups[0].modelMultipliers == ["claude-opus-*": 2_000_000, "gpt-5*": 500_000] && config.groups[0].multiplierPPM == 1_200_000)
        #expect(config.users[0].limits.concurrency == 4 && config.users[0].limits.maxWaiting == 20)
        #expect(
            config.users[0].limits.modelBudgets == [
                ModelBudget(pattern: "claude-opus-*", daily: Money(dollars: "10"), monthly: Money(dollars: "100"))
            ])
        #expect(config.keys[0].policy.budget == Money(dollars: "50") && config.keys[0].policy.budgetDurationHours == 720)
        #expect(config.keys[0].policy.modelBudgets?.first?.weekly == Money(dollars: "5"))
        #expect { try load("users:\n  - name: u\n    concurrency: 0\n") } throws: { "\($0)".hasPrefix("users[0].concurrency must be") }
        #expect { try load("groups:\n  - name: g\n    price_multiplier: {a: 0}\n") } throws: {
            "\($0)".hasPrefix("groups[0].price_multiplier.a must be")
        }
        #expect { try load("groups:\n  - name: g\n    subscription: {daily_usd: x}\n") } throws: {
            "\($0)".hasPrefix("groups[0].subscription.daily_usd must be")
        }
    }

    @Test func alertWebhooksAreReadAndChecked() throws {
        let config = try load(
            """
            alerts:
              interval: 15s
              storm_accounts: 4
              webhooks:
                - url: https://hooks.example.com/switchboard
                  secret: ${HOOK_SECRET}
                  events: [account.unhealthy, budget.100]
                - url: http://127.0.0.1:9000/all
                  secret: another-secret-0123456789
            """, environment: ["HOOK_SECRET": "whsec-0123456789abcdef"])
        #expect(config.alerts.interval == .seconds(15) && config.alerts.stormAccounts == 4)
        #expect(config.alerts.webhooks.map(\.events) == [[.accountUnhealthy, .budget100], Set(AlertEvent.allCases)])
        #expect(config.alerts.webhooks[0].secret == "whsec-0123456789abcdef")
        for bad in [
            "alerts:\n  webhooks:\n    - url: ftp://x\n      secret: 0123456789abcdef0\n",
            "alerts:\n  webhooks:\n    - url: https://x\n      secret: short\n",
            "alerts:\n  webhooks:\n    - url: https://x\n      secret: 0123456789abcdef0\n      events: [account.exploded]\n",
            "alerts:\n  storm_accounts: 1\n", "alerts:\n  interval: 0\n", "alerts:\n  hooks: []\n",
        ] {
            #expect(throws: ConfigurationError.self, "\(bad) was accepted") { try load(bad) }
        }
    }

    @Test func namesFollowOneRule() throws {
        #expect(RecordName.problem("team-a laptop") == nil)
        for bad in ["", "a/b", " lead", "trail ", "nul\u{0}byte", "bell\u{7}", String(repeating: "n", count: 129)] {
            #expect(RecordName.problem(bad) != nil, "\(bad.debugDescription) was accepted")
        }
        #expect(throws: ConfigurationError.self) { try load("keys:\n  - name: a/b\n    key: sk-sb-0123456789abcdefghijklmnop\n") }
        #expect(throws: ConfigurationError.self) { try load("users:\n  - name: \"x\\0y\"\n") }
    }

    @Test func noFileMeansDefaults() throws {
        let config = try Configuration.load(file: nil, environment: [:])
        #expect(config.listen == "127.0.0.1:8080")
        #expect(try config.databaseLocation() == .sqlite(path: "switchboard-data/switchboard.db"))
        #expect(config.accounts.isEmpty && config.keys.isEmpty)
    }

    @Test func secretsCanComeFromTheEnvironmentInline() throws {
        let text = Self.example.replacingOccurrences(of: "api_key: sk-upstream-1", with: "api_key: ${OPENAI_KEY}")
        #expect(try load(text, environment: ["OPENAI_KEY": "sk-inline"]).accounts[0].apiKey == "sk-inline")
        #expect(throws: ConfigurationError.self) { _ = try load(text) }
    }

    @Test(arguments: [
        ("listen: 127.0.0.1:8080\nlisen: x", "unknown setting"),
        ("accounts:\n  - name: a\n    provider: bedrock\n    models: [m]", "provider"),
        ("accounts:\n  - name: a\n    provider: openai\n    models: []", "at least one model"),
        ("accounts:\n  - name: a\n    provider: openai\n    models: [m]\n    rpm: 5", "unknown setting"),
        ("keys:\n  - key: sk-x", "name is required"),
        ("max_body_size: lots", "max_body_size"),
        ("first_byte_timeout: soon", "first_byte_timeout"),
        ("- just\n- a list", "mapping"),
    ])
    func mistakesAreRefusedWithTheirPlace(text: String, mention: String) {
        #expect { _ = try load(text) } throws: { "\($0)".contains(mention) }
    }

    @Test func listenAddressesAreChecked() throws {
        var config = Configuration()
        config.listen = "nonsense"
        #expect(throws: ConfigurationError.self) { _ = try config.listenAddress() }
        config.listen = "[::1]:8080"
        #expect(try config.listenAddress() == ("::1", 8080))
        config.database = "postgres://ops:hunter2@db.internal:5433/gateway?sslmode=require"
        #expect(try config.databaseLocation() == .postgres(url: config.database))
        // The password is nobody's to read in a log line or an error.
        #expect(!config.description.contains("hunter2") && config.description.contains("postgres://ops:***@db.internal:5433/gateway"))
        #expect(try config.resolvedDataDirectory() == "switchboard-data")
        config.database = "postgres:///nohost"
        #expect(throws: ConfigurationError.self) { _ = try config.databaseLocation() }
    }
}
