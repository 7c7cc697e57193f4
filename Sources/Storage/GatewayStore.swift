import Policy
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Where the ledger writer puts rows: all it needs of the store.
public protocol LedgerSink: Sendable {
    /// Writes ledger rows; a row whose request id is already stored is skipped,
    /// so a retried batch never doubles a row. Also advances keys' last-used time.
    /// Fails with `rejected` when a row itself is refused, `unavailable` when
    /// the store cannot write now.
    func appendLedger(_ rows: [LedgerRow]) async throws
}

/// Durable state: keys, accounts, settings and the ledger. The hot path never
/// waits on it; snapshots are built from it and ledger rows are written to it in
/// batches.
///
/// SQLite is the embedded implementation; every implementation passes the same
/// store test suite.
public protocol GatewayStore: LedgerSink {
    /// Brings the schema to the newest version.
    func migrate() async throws
    /// A number that changes whenever keys or accounts change, from any process.
    func revision() async throws -> Int64

    /// Creates a key; fails if the name is taken.
    func insertKey(_ key: KeyInput) async throws -> KeyRecord
    /// Creates or updates the key with this name (config-declared keys).
    func upsertKey(_ key: KeyInput) async throws -> KeyRecord
    /// Every key, oldest first.
    func listKeys() async throws -> [KeyRecord]
    /// What each key spent before `now`, from the ledger (lifetime cost and
    /// tokens, and cost in the current UTC day).
    func keyBaselines(now: Date) async throws -> [Int64: KeyBaseline]
    /// Replaces a key's policy and enabled flag (keeping the stored balance when
    /// `keepStoredBalance`); nil when there is no such key.
    func updateKey(name: String, policy: KeyPolicy, enabled: Bool, expiresAt: Date?, keepStoredBalance: Bool) async throws -> KeyRecord?
    /// Adds to a key's balance atomically; nil when there is no such key;
    /// `outOfRange` when the balance would pass what `Money` holds.
    func adjustKeyBalance(name: String, by amount: Money) async throws -> KeyRecord?
    /// Adds to a user's balance atomically; false when there is no such user;
    /// `outOfRange` when the balance would pass what `Money` holds.
    func adjustUserBalance(name: String, by amount: Money) async throws -> Bool
    /// Deletes a key by name (its ledger rows stay); false when there is none.
    func deleteKey(name: String) async throws -> Bool
    /// A key's, user's, group's or account's series from the rollups, by minute, hour or day.
    func usageStats(of subject: StatsSubject, from: Date, to: Date, interval: StatsInterval) async throws -> UsageStats
    /// Revokes a key by name; false when there is none.
    func revokeKey(name: String, at: Date) async throws -> Bool

    /// Creates or updates the account with this name.
    func upsertAccount(_ account: AccountInput) async throws -> AccountRecord
    /// Every account, oldest first.
    func listAccounts() async throws -> [AccountRecord]
    /// Deletes an account by name; false when there is none.
    func removeAccount(name: String) async throws -> Bool
    /// Enables or disables an account by name (enabling bumps its generation);
    /// nil when there is none.
    func setAccountEnabled(name: String, enabled: Bool) async throws -> AccountRecord?
    /// Saves accounts' live state (one row per account, replaced).
    func saveAccountStatus(_ statuses: [AccountStatus], at: Date) async throws
    /// The live state last saved for each account, and when.
    func accountStatuses() async throws -> [(status: AccountStatus, updatedAt: Date)]
    /// Replaces the sealed secrets of the given accounts and the given settings,
    /// all or none (a master key rotation).
    func replaceSecrets(_ secrets: [Int64: SealedSecret], proxySecrets: [Int64: SealedSecret], settings: [String: String]) async throws

    /// Every user, oldest first.
    func listUsers() async throws -> [UserEntry]
    /// Creates or updates the user with this name (the id is the store's); an
    /// existing user's balance changes only with `setBalance`.
    func upsertUser(_ user: UserEntry, setBalance: Bool) async throws -> UserEntry
    /// Deletes a user by name (their keys stay, unowned); false when there is none.
    func deleteUser(name: String) async throws -> Bool
    /// Every group, oldest first.
    func listGroups() async throws -> [GroupEntry]
    /// Creates or updates the group with this name.
    func upsertGroup(_ group: GroupEntry) async throws -> GroupEntry
    /// Deletes a group by name; false when there is none.
    func deleteGroup(name: String) async throws -> Bool
    /// What each user was charged before `now`: in all, and in the current UTC
    /// day, week and month.
    func userBaselines(now: Date) async throws -> [String: UserBaseline]

    /// A stored setting.
    func setting(_ name: String) async throws -> String?
    /// Stores a setting only if it is not set yet; returns the value now stored.
    func initializeSetting(_ name: String, to value: String) async throws -> String

    /// The newest ledger rows, newest first.
    func recentLedger(limit: Int) async throws -> [LedgerRow]
    /// Deletes up to `limit` of the oldest rows made before `cutoff`, in one
    /// short transaction; the rollups and totals keep what they added up.
    /// Returns how many went.
    func deleteLedgerRows(before cutoff: Date, limit: Int) async throws -> Int

    /// Requests, tokens by class and list-price cost per UTC day and upstream
    /// model, of one provider's rows (one account's, when named), from `from` until `to`.
    func dailyUsage(provider: String, account: String?, from: Date, to: Date) async throws -> [DailyUsage]
    /// Stores a setting, replacing any value it had.
    func putSetting(_ name: String, _ value: String) async throws

    /// Adds an admin action to the audit log.
    func appendAudit(_ entry: AuditEntry) async throws
    /// A page of the audit log, newest first.
    func auditPage(_ query: AuditQuery) async throws -> AuditPage
    /// Deletes up to `limit` of the oldest audit entries made before `cutoff`; returns how many went.
    func deleteAudit(before cutoff: Date, limit: Int) async throws -> Int
    /// Captures sealed with master key `keyID`, in request id order after `after`, up to `limit`.
    func captures(sealedWith keyID: String, after: String, limit: Int) async throws -> [(requestID: String, sealed: SealedSecret)]
    /// Replaces captures' sealed bodies (a master key rotation), in one transaction.
    func replaceCaptures(_ sealed: [String: SealedSecret]) async throws
    /// A request's sealed capture (`capture:`), nil when there is none.
    func capture(requestID: String) async throws -> SealedSecret?
    /// Deletes up to `limit` minute rollups older than `cutoff`; returns how many went.
    func deleteMinuteRollups(before cutoff: Date, limit: Int) async throws -> Int
    /// Totals by key and by model since a time (all time when nil).
    func usageReport(since: Date?) async throws -> UsageReport
    /// A page of ledger rows for the request explorer, newest first.
    func ledgerPage(_ query: LedgerQuery) async throws -> LedgerPage
    /// The sessions among a query's rows, most recently active first, each added up.
    func sessionUsage(_ query: LedgerQuery) async throws -> [SessionUsage]
    /// The row of one request, if there is one.
    func ledgerRow(requestID: String) async throws -> LedgerRow?
    /// The ledger between two times in slices of `bucketSeconds`, oldest first.
    func activity(from: Date, to: Date, bucketSeconds: Int64) async throws -> [ActivityBucket]
    /// Latency and first-byte quantiles between two times.
    func latencySummary(from: Date, to: Date) async throws -> LatencySummary
    /// Ledger totals between two times grouped by key, user, model, account or day.
    func usageBreakdown(by dimension: UsageDimension, from: Date, to: Date) async throws -> [UsageTotals]

    /// Every model alias, by name; one that cannot be read comes back with no targets (it serves nothing).
    func listAliases() async throws -> [ModelAlias]
    /// Creates or replaces an alias.
    func upsertAlias(_ alias: ModelAlias, source: String) async throws
    /// Deletes an alias; false when there was none.
    func deleteAlias(name: String) async throws -> Bool
    /// Every provider's stored settings; a value that cannot be read is left out (no cap).
    func listProviderSettings() async throws -> [ProviderSetting]
    /// Creates or replaces a provider's settings.
    func upsertProviderSetting(_ setting: ProviderSetting, source: String) async throws
    /// Deletes a provider's settings (only if written by `source`, when given); false when none were.
    func deleteProviderSetting(_ provider: Provider, source: String?) async throws -> Bool

    /// Stores a quarantine; returns its id.
    func addQuarantine(_ quarantine: Quarantine) async throws -> Int64
    /// The quarantines not released, oldest first.
    func activeQuarantines() async throws -> [Quarantine]
    /// Releases a quarantine; false when there is no active one with that id.
    func releaseQuarantine(id: Int64, at: Date) async throws -> Bool

    /// Runs `body` when no other process sharing the database runs the same
    /// `task` now (housekeeping runs on one replica at a time); nil when
    /// another does. With one process (SQLite) it always runs.
    func leading<T: Sendable>(_ task: String, _ body: @Sendable () async throws -> T) async throws -> T?

    /// Calls `onChange` whenever another process may have changed what
    /// `revision` counts, until the calling task is cancelled (PostgreSQL:
    /// LISTEN on the revision's channel, reconnecting as needed); returns at
    /// once where there is nothing to listen to (SQLite: polling it is).
    func watchChanges(_ onChange: @escaping @Sendable () async -> Void) async

    func close() async throws
}

/// Why a store operation failed, without values that could be secret.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case duplicateName = "duplicate_name"
        case notFound = "not_found"
        case schemaTooNew = "schema_too_new"
        case corrupt = "corrupt_row"
        /// An amount would pass what the store can hold.
        case outOfRange = "out_of_range"
        /// The store refused this record itself (a constraint, a value it cannot hold): retrying will not help.
        case rejected = "record_rejected"
        /// The store cannot write now (disk full, locked, failing): retry later.
        case unavailable = "store_unavailable"
    }

    public var code: Code
    public var description: String

    public init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }
}
