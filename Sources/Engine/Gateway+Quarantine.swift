import Logging
import Policy
import Storage
import SwitchboardCore
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension Gateway {
    /// The quarantine a request of this key and session falls under, if any:
    /// those the snapshot holds, and those this process began since.
    func quarantine(covering keyID: Int64, session: String?) -> Quarantine? {
        let stored = snapshots.snapshot.quarantines
        let now = clock.now()
        let pending = pendingQuarantines.withLock { pending -> Quarantine? in
            // Once a snapshot holds one, it speaks for it (and a release removes it there); one stored a
            // while ago that no snapshot holds was released before any snapshot saw it.
            let known = Set(stored.map(\.id))
            pending.removeAll { $0.id != 0 && (known.contains($0.id) || now.timeIntervalSince($0.createdAt) > Self.pendingQuarantineLifetime) }
            return pending.first { $0.covers(keyID: keyID, session: session) }
        }
        return pending ?? stored.first { $0.covers(keyID: keyID, session: session) }
    }

    /// How long a stored quarantine is also kept in this process: far longer
    /// than the snapshot refresher takes to load it.
    static let pendingQuarantineLifetime: TimeInterval = 60

    /// Quarantines a session or key at once, then stores it (a store that
    /// fails leaves it in force in this process).
    func begin(_ quarantine: Quarantine) async {
        pendingQuarantines.withLock { $0.append(quarantine) }
        logger.warning(
            "upstream ban signal: quarantined",
            metadata: [
                "scope": "\(quarantine.scope.rawValue)", "key": "\(quarantine.keyName)", "account": "\(quarantine.account)",
                "signal": "\(quarantine.signal)", "request_id": "\(quarantine.requestID)",
            ])
        guard let store else { return }
        do {
            let id = try await store.addQuarantine(quarantine)
            pendingQuarantines.withLock { pending in
                if let index = pending.firstIndex(where: { $0.id == 0 && $0.requestID == quarantine.requestID }) { pending[index].id = id }
            }
        } catch {
            logger.error("a quarantine could not be stored; it holds until this process stops", metadata: ["key": "\(quarantine.keyName)"])
        }
    }

    /// Forgets a quarantine this process began (an admin released it).
    public func forgetQuarantine(id: Int64) {
        pendingQuarantines.withLock { $0.removeAll { $0.id == id } }
    }
}
