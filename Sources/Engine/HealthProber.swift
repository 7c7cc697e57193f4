import Logging
import Policy
import ServiceLifecycle
import Upstream

/// Brings back accounts the upstream refused (401/403) once their credentials
/// work again: every interval it sends each such account a free probe
/// (`GET …/models`) and clears the mark on success. Disabled accounts and
/// secrets that do not open are left to admins.
public struct HealthProber: Service {
    let gateway: Gateway
    let interval: Duration
    let logger: Logger

    /// Creates the service; an interval of zero turns probing off.
    public init(gateway: Gateway, interval: Duration, logger: Logger) {
        self.gateway = gateway
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        guard interval > .zero else { return try await gracefulShutdown() }
        await runPeriodically(every: interval, immediately: false) { await probeUnhealthy() }
    }

    /// Probes every account the upstream refused; clears those that now pass.
    public func probeUnhealthy() async {
        for (account, status) in gateway.accountStatus() where status.healthMark != nil && account.enabled {
            let result = await AccountProbe.run(account, kind: .listModels, transport: gateway.transport)
            if result.ok {
                gateway.pool.clearTrouble(accountID: account.id)
                logger.notice("account healthy again", metadata: ["account": "\(account.name)"])
            }
        }
    }
}
