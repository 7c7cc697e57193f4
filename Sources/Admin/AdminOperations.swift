import Engine

/// Everything the admin surfaces do, in one place: the admin API, the
/// console and (without a running gateway) the CLI call the same operations.
public struct AdminOperations: Sendable {
    public let accounts: AccountAdmin
    public let keys: KeyAdmin
    public let parties: PartyAdmin
    public let requests: RequestAdmin
    public let reports: ReportAdmin
    /// The running engine: live state, stats, the transport for account tests.
    public let gateway: Gateway

    /// The audit log of admin actions.
    public var audit: AuditAdmin { AuditAdmin(store: requests.store) }
    /// Stats of keys, users, groups and accounts, from the rollups.
    public var stats: StatsAdmin { StatsAdmin(store: requests.store, gateway: gateway) }
    /// Policy dry-runs against the recorded traffic.
    public var policy: PolicyAdmin { PolicyAdmin(store: requests.store, prices: gateway.prices) }
    /// Model aliases (`models:`) and providers' settings (`providers:`).
    public var routing: RoutingAdmin { RoutingAdmin(store: requests.store, refresher: parties.refresher) }
    /// Sessions and keys quarantined after ban signals.
    public var quarantines: QuarantineAdmin { QuarantineAdmin(store: requests.store, gateway: gateway, refresher: parties.refresher) }
    /// Reconciliations with providers' exports.
    public var reconciliation: ReconciliationAdmin { ReconciliationAdmin(store: requests.store) }

    public init(accounts: AccountAdmin, keys: KeyAdmin, parties: PartyAdmin, requests: RequestAdmin, reports: ReportAdmin, gateway: Gateway) {
        self.reports = reports
        self.accounts = accounts
        self.keys = keys
        self.parties = parties
        self.requests = requests
        self.gateway = gateway
    }
}
