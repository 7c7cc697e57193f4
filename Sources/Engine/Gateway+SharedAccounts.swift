import Logging
import Policy
import Storage
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension Gateway {
    /// The shared meters of an account's caps: its slots (`max_concurrency`),
    /// its requests in the last minute (`max_rpm`: a request counts from its
    /// start until a minute after it settled, never less than the local
    /// count) and its tokens in the last minute (`max_tpm`).
    static func sharedMeters(for account: AccountEntry, now: Date) -> [SharedMeter] {
        let limits = account.limits
        let a = "a\(account.id)"
        var meters: [SharedMeter] = []
        if let cap = limits.maxConcurrency {
            meters.append(SharedMeter(name: "\(a).slots", cap: nil, need: 0, hold: 0, slotCap: cap, refusal: .concurrency))
        }
        if let cap = limits.maxRPM {
            meters.append(
                SharedMeter(
                    name: "\(a).requests", cap: Int64(cap), need: 1, hold: 1, unit: .requests, windowMilliseconds: 60_000,
                    refusal: .rateLimited(until: now, what: "requests")))
        }
        if let cap = limits.maxTPM {
            meters.append(
                SharedMeter(
                    name: "\(a).tokens", cap: Int64(cap), need: 1, hold: 0, unit: .tokens, windowMilliseconds: 60_000,
                    refusal: .rateLimited(until: now, what: "tokens")))
        }
        return meters
    }

    /// With replicas on PostgreSQL, an attempt on an account with caps also
    /// takes its place under them across replicas (one conditional
    /// statement); the place goes back with the account's lease, its tokens
    /// counted. Returns why the account cannot take it, or nil to go on.
    ///
    /// A database that cannot be asked in time leaves the account's own
    /// caps on this replica in force (an account's caps guard the upstream,
    /// not money): the attempt goes on, and the warning is logged.
    func holdSharedCaps(of lease: AccountLease, requestID: String) async -> SkipReason? {
        guard let shared, let settlements = sharedSettlements else { return nil }
        let clock = self.clock
        let meters = Self.sharedMeters(for: lease.account, now: clock.now())
        guard !meters.isEmpty else { return nil }
        // One lease per attempt: an account may be tried again for another model.
        let leaseID = "\(requestID)/a\(lease.account.id)/\(UUID().uuidString.prefix(8))"
        let uses = meters.map(\.use)
        do {
            let verdict = try await withDeadline(
                Self.sharedDeadline,
                abandoned: { attempt in
                    Task {
                        _ = await attempt.result
                        settlements.enqueue(requestID: leaseID, keyID: nil, cost: .zero)
                    }
                }
            ) { try await shared.admit(lease: leaseID, meters: meters, now: clock.now()) }
            guard case .meter(let meter, let oldest) = verdict else {
                lease.whenFinished { outcome in
                    settlements.enqueue(requestID: leaseID, keyID: nil, cost: .zero, tokens: outcome.tokens, meters: uses)
                }
                return nil
            }
            let until = oldest.map { $0.addingTimeInterval(60) } ?? clock.now().addingTimeInterval(1)
            switch meter.refusal {
            case .rateLimited(_, "tokens"): return .tokenCap(until: until)
            case .rateLimited: return .requestCap(until: until)
            default: return .full(canWait: false)
            }
        } catch {
            if !(error is DeadlineExceeded) { settlements.enqueue(requestID: leaseID, keyID: nil, cost: .zero) }
            logger.warning("an account's shared caps could not be checked", metadata: ["error": "\(error)"])
            return nil
        }
    }
}
