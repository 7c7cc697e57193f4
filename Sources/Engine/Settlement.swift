import Foundation
import Policy
import Storage
import Synchronization
import SwitchboardCore

/// The one ledger row of one request, written exactly once.
///
/// Every path out of a request settles it; should a path be missed (a client gone
/// before its stream started, say), the row is written as `abandoned` when the
/// settlement is released, so no request goes unrecorded.
final class Settlement: Sendable {
    private let row: Mutex<LedgerRow?>
    /// The key's slot and holds; settled with the row, at the row's cost, so the
    /// money a key is charged is exactly what its ledger rows say.
    private let keyLease = Mutex<KeyLease?>(nil)
    private let ledger: LedgerWriter
    private let started: ContinuousClock.Instant

    init(row: LedgerRow, ledger: LedgerWriter, started: ContinuousClock.Instant) {
        self.row = Mutex(row)
        self.ledger = ledger
        self.started = started
        ledger.opened()
    }

    /// Ties the key's admission to this request's row.
    func attach(_ lease: KeyLease) { keyLease.withLock { $0 = lease } }

    /// Edits the row before settling (who served, how many attempts).
    func update(_ change: (inout LedgerRow) -> Void) {
        row.withLock { if $0 != nil { change(&$0!) } }
    }

    /// Finishes the row and queues it; later calls do nothing.
    func settle(status: Int, outcome: String, errorCode: String? = nil, _ change: (inout LedgerRow) -> Void = { _ in }) {
        let finished = row.withLock { current -> LedgerRow? in
            guard var final = current else { return nil }
            current = nil
            final.status = status
            final.outcome = outcome
            final.errorCode = errorCode ?? final.errorCode
            final.latencyMs = Self.milliseconds(started.duration(to: .now))
            change(&final)
            return final
        }
        guard var finished else { return }
        if let lease = keyLease.withLock({ $0.take() }) {
            // The owner's group multiplier turns list price into what is charged;
            // the row records the charged amount, the same number the budgets see.
            if let owner = lease.owner {
                finished.userName = owner.user.name
                if let group = owner.group { finished.cost = Money(picos: group.charge(finished.cost.picos)) }
            }
            lease.settle(cost: finished.cost.picos, tokens: finished.usage.total)
        }
        ledger.record(finished)
    }

    /// Milliseconds since the request arrived.
    func elapsedMs() -> Int64 { Self.milliseconds(started.duration(to: .now)) }

    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attos) = duration.components
        return seconds * 1000 + attos / 1_000_000_000_000_000
    }

    deinit {
        settle(status: 499, outcome: "abandoned")
    }
}
