import Admin
import Engine
import HTTPServer
import Hummingbird
import Logging
import NIOCore
import Policy
import ServiceLifecycle
import Storage
import SwitchboardCore
import UnixSignals
import Upstream

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The composition root: turns a configuration into the running gateway. `serve`
/// and the tests build the server the same way.
public struct Switchboard: Sendable {
    /// The release, as `switchboard --version` prints it.
    public static let version = "0.6.0"

    /// The HTTP application, with the gateway's services inside it.
    public let application: GatewayApplication
    /// The durable parts.
    public let storeContext: StoreContext
    /// The engine.
    public let gateway: Gateway
    /// The ledger writer (tests flush it).
    public let ledger: LedgerWriter
    /// The snapshot refresher (tests run it on demand).
    public let refresher: SnapshotRefresher
    /// The settings in force.
    public let configuration: Configuration
    /// Client connection limits and the connections they count.
    public let protection: ConnectionProtection

    /// Builds everything and applies the config file's accounts and keys.
    /// - Parameters:
    ///   - clock: the time cooldowns, windows and sessions follow (a mock one in tests).
    ///   - transport: what reaches the providers (by default HTTP/1.1 with the
    ///     configuration's timeouts and address policy; a scripted one in tests).
    ///   - onListening: called with the bound port once the server listens.
    public static func build(
        _ config: Configuration, logger: Logger, clock: any GatewayClock = SystemClock(), transport: (any UpstreamTransport)? = nil,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws -> Switchboard {
        // Check everything that can be wrong with the settings before opening anything.
        let (host, port) = try config.listenAddress()
        let prices = try config.priceTable()
        if let file = config.pricesFile { logger.info("price table loaded", metadata: ["file": "\(file)", "models": "\(prices.entries.count)"]) }
        let tracing = try Self.tracing(config, logger: logger)
        let context = try await StoreContext.open(config, logger: logger)
        let holder: SnapshotHolder
        let loader = SnapshotLoader(store: context.store, box: context.box, logger: logger)
        do {
            try await ConfigSeeder.seed(config, into: context, logger: logger)
            holder = SnapshotHolder(try await loader.load())
        } catch {
            try? await context.store.close()
            throw error
        }
        // Requests the last run admitted but never recorded (it was killed) are settled first.
        let journal: LedgerJournal
        do {
            journal = try LedgerJournal(
                directory: try config.resolvedDataDirectory() + "/journal", stallTimeout: config.ledgerStallTimeout,
                mirror: OpenRequestMirror.shared(by: context.store), logger: logger)
            try await JournalRecovery.settle(journal, store: context.store, prices: prices, logger: logger)
        } catch {
            try? await context.store.close()
            throw error
        }
        // What keys and users spent before this start counts against their budgets;
        // health marks and cooldowns carry over. Read before anything that must be shut down exists.
        let keyBaselines: [Int64: KeyBaseline]
        let userBaselines: [String: UserBaseline]
        do {
            keyBaselines = try await context.store.keyBaselines(now: clock.now())
            userBaselines = try await context.store.userBaselines(now: clock.now())
        } catch {
            try? await context.store.close()
            throw error
        }
        let savedStatuses = try? await context.store.accountStatuses()
        let metrics = GatewayMetrics(version: version, keyLabels: config.metricsKeyLabels)
        let ledger = LedgerWriter(
            store: context.store, journal: journal, stallTimeout: config.ledgerStallTimeout, metrics: metrics, logger: logger)
        let refresher = SnapshotRefresher(loader: loader, holder: holder, logger: logger)
        let transport =
            transport
            ?? HTTP1Transport(
                settings: .init(
                    connectTimeout: TimeAmount(saturating: config.connectTimeout), firstByteTimeout: TimeAmount(saturating: config.firstByteTimeout),
                    idleTimeout: TimeAmount(saturating: config.streamIdleTimeout)),
                policy: config.upstreamPolicy)
        var settings = Gateway.Configuration(
            maxFailovers: config.maxFailovers, maxBodyBytes: config.maxBodyBytes, keyWaitTimeout: config.keyWaitTimeout,
            refuseUnpriced: config.refuseUnpriced, keepaliveInterval: config.keepaliveInterval)
        settings.onClientDisconnect = config.onClientDisconnect
        settings.sessionQuarantine = config.sessionQuarantine
        settings.leaseTTL = config.leaseTTL
        settings.cachePrefixBytes = config.cachePrefixBytes
        settings.drainTimeout = config.drainTimeout
        settings.drainBytes = config.drainMaxBytes
        settings.trustedProxies = config.trustedProxies
        settings.tracer = tracing?.tracer
        settings.propagateTrace = config.propagateTrace
        if !config.capture.keys.isEmpty {
            let box = context.box
            settings.capture = CaptureSettings(
                keys: Set(config.capture.keys), maxBytes: config.capture.maxBytes, redact: Set(config.capture.redact), seal: { try box.seal($0) })
        }
        let gateway = Gateway(
            snapshots: holder, pool: AccountPool(settings: config.pool, clock: clock),
            limiter: KeyLimiter(
                clock: clock, currentKey: { holder.snapshot.keys.entry(id: $0) }, currentOwner: { holder.snapshot.owner(userID: $0) }),
            transport: transport, ledger: ledger, prices: prices,
            hasher: context.hasher, configuration: settings, logger: logger, store: context.store)
        let userIDs = holder.snapshot.users.mapValues(\.id)
        gateway.limiter.restore(
            keyBaselines, users: Dictionary(userBaselines.compactMap { name, baseline in userIDs[name].map { ($0, baseline) } }) { a, _ in a })
        if let savedStatuses { gateway.pool.restore(savedStatuses.map(\.status), accounts: holder.snapshot.accounts.accounts) }
        let accountAdmin = AccountAdmin(
            store: context.store, box: context.box, gateway: gateway, refresher: refresher, source: "admin_api", upstreams: config.upstreamPolicy)
        let router = ServerBuilder.router(
            routes: ClientRoutes(gateway: gateway),
            admin: AdminRoutes(
                operations: AdminOperations(
                    accounts: accountAdmin,
                    keys: KeyAdmin(store: context.store, hasher: context.hasher, gateway: gateway, refresher: refresher),
                    parties: PartyAdmin(store: context.store, gateway: gateway, refresher: refresher),
                    requests: RequestAdmin(store: context.store, open: { [box = context.box] in try box.open($0) }),
                    reports: ReportAdmin(store: context.store, gateway: gateway),
                    gateway: gateway),
                token: config.adminToken, loginAttempts: config.adminLoginAttempts, logger: logger),
            metrics: MetricsRoutes(
                metrics: metrics, gateway: gateway, token: config.metricsToken, listener: config.metricsListen == nil ? .shared : .elsewhere))
        announce(holder.snapshot, logger: logger)
        let dataDirectory = ((try? config.resolvedDataDirectory()) ?? ".").absolutePath
        let (accountCount, keyCount) = (holder.snapshot.accounts.accounts.count, holder.snapshot.keys.count)
        // Services stop in reverse order: the HTTP server first (in-flight streams
        // finish), then the refresher, then the ledger drains, then the transport.
        let protection = ConnectionProtection(limits: config.limits, logger: logger)
        var services: [any Service] = [
            TransportService(transport: transport), JournalService(journal: journal), ledger, refresher,
        ]
        // Shared leases (PostgreSQL) settle after the requests holding them, and before the ledger stops.
        if let settlements = gateway.sharedSettlements { services.append(settlements) }
        if let exchange = PoolExchange(gateway: gateway, store: context.store, logger: logger) { services.append(exchange) }
        services += [
            AccountStatusWriter(gateway: gateway, store: context.store, logger: logger),
            HealthProber(gateway: gateway, interval: config.healthProbeInterval, logger: logger),
            KeyHousekeeper(store: context.store, refresher: refresher, logger: logger),
            HeapTrimmer(logger: logger),
        ]
        if !config.alerts.webhooks.isEmpty {
            services.append(AlertMonitor(gateway: gateway, store: context.store, settings: config.alerts, logger: logger))
        }
        services.append(
            LedgerRetention(store: context.store, retention: config.ledgerRetention, interval: config.housekeepingInterval, logger: logger))
        // Spans are exported until everything else stopped (services stop in reverse order).
        if let tracing { services.insert(tracing.service, at: 0) }
        if let (metricsHost, metricsPort) = try config.metricsAddress() {
            // `/metrics` on an address of its own (an internal interface, a sidecar's port).
            services.append(
                GatewayApplication(
                    router: MetricsRoutes.ownRouter(metrics: metrics, gateway: gateway, token: config.metricsToken),
                    address: .hostname(metricsHost, port: metricsPort),
                    onServerRunning: { channel in
                        logger.info("metrics listening", metadata: ["address": "\(metricsHost):\(channel.localAddress?.port ?? metricsPort)"])
                    },
                    logger: logger))
        }
        let application = GatewayApplication(
            router: router,
            server: protection.server,
            address: .hostname(host, port: port),
            services: services,
            onServerRunning: { channel in
                await protection.install(on: channel)
                let bound = channel.localAddress?.port ?? port
                logger.info(
                    "switchboard listening",
                    metadata: [
                        // Printed in name order: the address comes first, as scripts expect.
                        "address": "\(host):\(bound)", "data_directory": "\(dataDirectory)", "upstream_accounts": "\(accountCount)",
                        "client_keys": "\(keyCount)",
                    ])
                await onListening(bound)
            },
            logger: logger)
        return Switchboard(
            application: application, storeContext: context, gateway: gateway, ledger: ledger, refresher: refresher,
            configuration: config, protection: protection)
    }

    /// The service group that runs the gateway; graceful shutdown is bounded by
    /// the configured time, after which remaining work is cancelled.
    public func serviceGroup(signals: [UnixSignal], logger: Logger) -> ServiceGroup {
        var config = ServiceGroupConfiguration(
            services: [.init(service: application)], gracefulShutdownSignals: signals, cancellationSignals: [], logger: logger)
        config.maximumGracefulShutdownDuration = configuration.shutdownTimeout
        config.maximumCancellationDuration = .seconds(5)
        return ServiceGroup(configuration: config)
    }

    /// Runs until SIGTERM or SIGINT, then shuts down gracefully within the
    /// configured time, and closes the store.
    public func run(logger: Logger) async throws {
        let group = serviceGroup(signals: [.sigterm, .sigint], logger: logger)
        do {
            try await group.run()
        } catch {
            try? await storeContext.store.close()
            throw error
        }
        try await storeContext.store.close()
    }

    /// Logs what is missing for a first request to work.
    static func announce(_ snapshot: Snapshot, logger: Logger) {
        if snapshot.accounts.accounts.isEmpty {
            logger.notice(
                "no upstream accounts yet: add one with `switchboard accounts add --name NAME --provider openai --api-key-env VAR --models gpt-4o-mini`, or under accounts: in the config file"
            )
        }
        if snapshot.keys.count == 0 {
            logger.notice("no client keys yet: create one with `switchboard keys create --name NAME`, or under keys: in the config file")
        }
    }
}

/// Writes the ledger journal in batches until shutdown reaches it (after the
/// ledger writer, whose rows close its entries, has drained).
struct JournalService: Service {
    let journal: LedgerJournal

    func run() async throws {
        await withGracefulShutdownHandler {
            await journal.run()
        } onGracefulShutdown: {
            journal.stop()
        }
    }
}

/// Owns the upstream HTTP client: waits for shutdown, then closes its connections.
struct TransportService: Service {
    let transport: any UpstreamTransport

    func run() async throws {
        try? await gracefulShutdown()
        try await transport.shutdown()
    }
}
