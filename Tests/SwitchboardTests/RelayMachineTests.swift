import Dialects
import Foundation
import Policy
import Storage
import SwitchboardCore
import Testing

@testable import Engine

/// The relay machine driven by event sequences, no sockets: every path ends in
/// exactly one settlement, every account lease taken goes back once, and the
/// key is charged what the row says.
@Suite struct RelayMachineTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    /// A dollar per million input tokens, two per million output.
    static let price: @Sendable (TokenUsage, String, String, Provider) -> (TokenCosts, Bool) = { usage, _, _, _ in
        (TokenCosts(input: Money(picos: usage.totalInput * 1_000_000), output: Money(picos: usage.output * 2_000_000)), true)
    }

    static func account(_ id: Int64, name: String? = nil, warmup: Bool = false) -> AccountEntry {
        var entry = AccountEntry(
            id: id, name: name ?? "acct-\(id)", provider: .anthropic, baseURL: "https://api.anthropic.com", secret: "s", models: ["m"])
        entry.interceptWarmup = warmup
        return entry
    }

    static func machine(
        attempts: Int = 3, disconnect: DisconnectPolicy = .drain, localAnswer: LocalAnswer.Kind? = nil, billable: Bool = true
    ) -> RelayMachine {
        RelayMachine(
            row: LedgerRow(
                requestID: "req_1", createdAt: now, keyID: 1, keyName: "k", dialect: "anthropic_messages", model: "m",
                status: 0, outcome: .ok),
            facts: RequestFacts(dialect: .anthropicMessages, model: "m", promptBytes: 400, localAnswer: localAnswer),
            maxAttempts: attempts, disconnect: disconnect, billable: billable, price: price)
    }

    /// Records what the driver would do with each step, to check the invariants.
    struct Ledger {
        var picks = 0
        var leases = 0
        var releases: [AttemptOutcome] = []
        var finishes: [RelayFinish] = []

        mutating func take(_ step: RelayStep) {
            switch step {
            case .pick(_, let releasing):
                picks += 1
                if let releasing { releases.append(releasing) }
            case .finish(let finish):
                finishes.append(finish)
                if let release = finish.release { releases.append(release) }
            default: break
            }
        }

        /// Every lease granted went back exactly once, and one settlement happened.
        func expectSettledOnce(_ location: SourceLocation = #_sourceLocation) {
            #expect(finishes.count == 1, "one settlement", sourceLocation: location)
            #expect(releases.count == leases, "every lease back once", sourceLocation: location)
        }
    }

    @Test func aPlainAnswerReleasesTheAccountChargesTheKeyAndRecordsOneRow() {
        var machine = Self.machine()
        var ledger = Ledger()
        ledger.take(machine.admitted(group: nil, userName: "u"))
        ledger.leases += 1
        guard case .send(let account, _) = machine.picked(Self.account(1), skipped: [], now: Self.now) else {
            Issue.record("expected a send")
            return
        }
        #expect(account.id == 1)
        let usage = TokenUsage(inputUncached: 10, output: 5)
        let step = machine.answered(status: 200, reported: usage, estimated: .zero)
        ledger.take(step)
        ledger.expectSettledOnce()
        let finish = try! #require(ledger.finishes.first)
        #expect(finish.release == .served(tokens: 15))
        #expect(finish.charge == KeyCharge(cost: Money(picos: 20_000_000), tokens: 15))
        #expect(finish.row.outcome == .ok && finish.row.usage == usage && finish.row.usageSource == .reported)
        #expect(finish.row.cost == finish.row.upstreamCost && finish.row.userName == "u" && finish.row.accountName == "acct-1")
        // Nothing after the settlement does anything.
        if case .none = machine.clientGone() {} else { Issue.record("a second settlement") }
        if case .none = machine.answered(status: 200, reported: usage, estimated: .zero) {} else { Issue.record("a second settlement") }
    }

    @Test(arguments: [FailureClass.rateLimited, .overloaded, .credential, .transient])
    func eachFailureFailsOverOnceAndReleasesTheFailedAccount(_ failureClass: FailureClass) {
        var machine = Self.machine()
        var ledger = Ledger()
        ledger.take(machine.admitted(group: nil, userName: nil))
        _ = machine.picked(Self.account(1), skipped: [], now: Self.now)
        ledger.leases += 1
        let failure = AttemptFailure(failureClass: failureClass, detail: "upstream answered", retryAfter: .seconds(7))
        let step = machine.attemptFailed(failure)
        guard case .pick(let excluding, let releasing) = step else {
            Issue.record("expected a failover")
            return
        }
        ledger.take(step)
        #expect(excluding.map(\.account) == [1], "never the same account twice")
        #expect(releasing == .failed(failureClass, retryAfter: .seconds(7), detail: "upstream answered"))
        _ = machine.picked(Self.account(2), skipped: [], now: Self.now)
        ledger.leases += 1
        ledger.take(machine.answered(status: 200, reported: TokenUsage(inputUncached: 1, output: 1), estimated: .zero))
        ledger.expectSettledOnce()
        let row = ledger.finishes[0].row
        #expect(row.attempts == 2 && row.accountName == "acct-2" && row.route == "acct-1=failed(\(failureClass.rawValue))")
    }

    @Test func whenEveryAttemptFailsTheLastFailureDecidesTheAnswer() {
        var machine = Self.machine(attempts: 2)
        var ledger = Ledger()
        ledger.take(machine.admitted(group: nil, userName: nil))
        for id in 1...2 {
            _ = machine.picked(Self.account(Int64(id)), skipped: [], now: Self.now)
            ledger.leases += 1
            ledger.take(machine.attemptFailed(AttemptFailure(failureClass: .transient, detail: "timeout", timedOut: id == 2)))
        }
        ledger.expectSettledOnce()
        let finish = ledger.finishes[0]
        guard case .error(let error, _) = finish.answer else {
            Issue.record("expected an error answer")
            return
        }
        #expect(error.code == .upstreamTimeout && finish.row.status == 504 && finish.row.outcome == .upstreamError)
        #expect(finish.charge == KeyCharge(cost: .zero, tokens: 0), "a request that never got an answer costs nothing")
    }

    @Test func aRateLimitedEndAsksThePoolForTheSoonestRecovery() {
        var machine = Self.machine(attempts: 1)
        _ = machine.admitted(group: nil, userName: nil)
        _ = machine.picked(Self.account(1), skipped: [], now: Self.now)
        let step = machine.attemptFailed(AttemptFailure(failureClass: .rateLimited, detail: "429", retryAfter: .seconds(3)))
        guard case .finish(let finish) = step, case .error(let error, let source) = finish.answer else {
            Issue.record("expected a settlement")
            return
        }
        #expect(error.code == .upstreamRateLimited && source == .soonestCooldown(fallback: .seconds(3)))
    }

    @Test func theClientsOwnMistakeIsPassedOnWithoutFailover() {
        var machine = Self.machine()
        var ledger = Ledger()
        ledger.take(machine.admitted(group: nil, userName: nil))
        _ = machine.picked(Self.account(1), skipped: [], now: Self.now)
        ledger.leases += 1
        ledger.take(machine.callerFault(status: 400))
        ledger.expectSettledOnce()
        #expect(ledger.finishes[0].release == .notBlamed(tokens: 0))
        #expect(ledger.finishes[0].row.outcome == .clientError && ledger.finishes[0].row.errorCode == "upstream_400")
    }

    @Test func aClientGoneInEachPhaseSettlesOnceAndGivesBackWhatWasHeld() {
        // Before admission: no key to charge, no account.
        var open = Self.machine()
        var ledger = Ledger()
        ledger.take(open.clientGone())
        ledger.expectSettledOnce()
        #expect(ledger.finishes[0].charge == nil && ledger.finishes[0].row.status == 499)

        // Admitted, choosing, waiting for an account, attempting.
        for phase in 0..<3 {
            var machine = Self.machine()
            var ledger = Ledger()
            ledger.take(machine.admitted(group: nil, userName: nil))
            if phase == 1 {
                let full = AccountPool.Skipped(account: Self.account(1), reason: .full(canWait: true))
                guard case .waitForAccount = machine.noAccount(skipped: [full], now: Self.now) else {
                    Issue.record("expected a wait")
                    return
                }
            }
            if phase == 2 {
                _ = machine.picked(Self.account(1), skipped: [], now: Self.now)
                ledger.leases += 1
            }
            ledger.take(machine.clientGone())
            ledger.expectSettledOnce()
            #expect(ledger.finishes[0].charge == KeyCharge(cost: .zero, tokens: 0))
            #expect(ledger.finishes[0].row.outcome == .clientDisconnected)
            if phase == 2 { #expect(ledger.finishes[0].release == .notBlamed(tokens: 0)) }
        }
    }

    /// A stream under way (admitted, account picked, first event sent).
    static func streaming(disconnect: DisconnectPolicy = .drain, group: GroupEntry? = nil) -> (RelayMachine, Ledger) {
        var machine = Self.machine(disconnect: disconnect)
        var ledger = Ledger()
        ledger.take(machine.admitted(group: group, userName: nil))
        _ = machine.picked(Self.account(1), skipped: [], now: Self.now)
        ledger.leases += 1
        guard case .startStream = machine.streamCommitted(status: 200) else {
            Issue.record("expected the stream to start")
            return (machine, ledger)
        }
        return (machine, ledger)
    }

    @Test func aClientThatLeavesAStreamIsDrainedForTheUsage() {
        var (machine, ledger) = Self.streaming()
        let cut = StreamProgress(usage: TokenUsage(inputUncached: 100, output: 1), deliveredBytes: 900, deliveredTextBytes: 60)
        guard case .drain = machine.streamEnded(.clientGone, progress: cut) else {
            Issue.record("expected a drain")
            return
        }
        let drained = StreamProgress(usage: TokenUsage(inputUncached: 100, output: 400), completed: true, deliveredBytes: 900, deliveredTextBytes: 60)
        ledger.take(machine.drainEnded(drained))
        ledger.expectSettledOnce()
        let row = ledger.finishes[0].row
        #expect(row.outcome == .clientDisconnected && row.usageSource == .reported && row.usage.output == 400)
        #expect(ledger.finishes[0].release == .notBlamed(tokens: 500))
    }

    @Test func aStreamDroppedBeforeItRanSettlesAtOnceWithAnEstimate() {
        // The response was never written (the client left before its head): nothing to drain.
        var (machine, ledger) = Self.streaming()
        ledger.take(machine.abandoned())
        ledger.expectSettledOnce()
        #expect(ledger.finishes[0].row.outcome == .clientDisconnected && ledger.finishes[0].row.usageSource == .estimated)
        #expect(ledger.finishes[0].row.usage.inputUncached == 100, "the request's input is billed")
        if case .none = machine.abandoned() {} else { Issue.record("a second settlement") }
    }

    @Test func anAnthropicStreamCutAfterItsDeltasIsBilledItsDeliveredText() {
        // message_start reported 100 in and 1 out; 15 deltas of 20 bytes reached the client; then the upstream broke.
        var (machine, ledger) = Self.streaming()
        let cut = StreamProgress(usage: TokenUsage(inputUncached: 100, output: 1), deliveredBytes: 3000, deliveredTextBytes: 15 * 20)
        ledger.take(machine.streamEnded(.broke(.connectionReset), progress: cut))
        ledger.expectSettledOnce()
        let finish = ledger.finishes[0]
        #expect(finish.row.usage == TokenUsage(inputUncached: 100, output: 75), "output from the delivered text, not message_start's 1")
        #expect(finish.row.usageSource == .estimated && finish.row.usageIncomplete && finish.row.deliveredBytes == 3000)
        #expect(finish.release == .failed(.transient, retryAfter: nil, detail: "stream broke: connection_reset"))
        guard case .streamEnd(let error?) = finish.answer else {
            Issue.record("expected an error event")
            return
        }
        #expect(error.code == .upstreamUnavailable)
    }

    @Test func estimatingInsteadOfDrainingBillsInputFromTheRequest() {
        var (machine, ledger) = Self.streaming(disconnect: .estimate)
        ledger.take(machine.streamEnded(.clientGone, progress: StreamProgress(deliveredBytes: 500, deliveredTextBytes: 41)))
        ledger.expectSettledOnce()
        #expect(ledger.finishes[0].row.usage == TokenUsage(inputUncached: 100, output: 11), "400 prompt bytes, 41 text bytes")
        #expect(ledger.finishes[0].row.usageSource == .estimated)
    }

    @Test func anIdleTimeoutAndShutdownEndTheStreamInItsOwnFormat() {
        var (idle, idleLedger) = Self.streaming()
        idleLedger.take(idle.streamEnded(.broke(.idleTimeout), progress: StreamProgress()))
        idleLedger.expectSettledOnce()
        if case .streamEnd(let error?) = idleLedger.finishes[0].answer { #expect(error.code == .upstreamTimeout) } else { Issue.record("no event") }

        var (shutdown, shutdownLedger) = Self.streaming()
        shutdownLedger.take(shutdown.streamEnded(.shutdown, progress: StreamProgress()))
        shutdownLedger.expectSettledOnce()
        #expect(shutdownLedger.finishes[0].row.outcome == .cancelled)
        #expect(shutdownLedger.finishes[0].release == .notBlamed(tokens: 100))
    }

    @Test func aStreamThatCompletesIsBilledWhatTheUpstreamReportedAtTheGroupsPrice() {
        let group = GroupEntry(id: 1, name: "pro", multiplierPPM: 1_500_000)
        var (machine, ledger) = Self.streaming(group: group)
        let done = StreamProgress(usage: TokenUsage(inputUncached: 10, output: 10), completed: true)
        ledger.take(machine.streamEnded(.completed, progress: done))
        ledger.expectSettledOnce()
        let row = ledger.finishes[0].row
        #expect(row.upstreamCost == Money(picos: 30_000_000) && row.cost == Money(picos: 45_000_000))
        #expect(ledger.finishes[0].charge?.cost == row.cost, "the key is charged exactly what the row says")
    }

    @Test func everyAccountFullQueuesOnceThenRefusesWithTheSoonestRecovery() {
        var machine = Self.machine()
        _ = machine.admitted(group: nil, userName: nil)
        let full = AccountPool.Skipped(account: Self.account(1), reason: .full(canWait: true))
        guard case .waitForAccount = machine.noAccount(skipped: [full], now: Self.now) else {
            Issue.record("expected a wait")
            return
        }
        guard case .pick = machine.accountWaitFailed() else {
            Issue.record("expected another look")
            return
        }
        let capped = AccountPool.Skipped(account: Self.account(1), reason: .requestCap(until: Self.now.addingTimeInterval(12)))
        guard case .finish(let finish) = machine.noAccount(skipped: [capped], now: Self.now), case .error(let error, _) = finish.answer else {
            Issue.record("expected a refusal")
            return
        }
        #expect(error.code == .accountsAtCapacity && error.retryAfterSeconds == 12 && finish.row.outcome == .noAccount)
    }

    @Test func anAccountFullOnOtherReplicasIsPassedOverWithoutCountingAsAnAttempt() {
        var machine = Self.machine(attempts: 1)
        _ = machine.admitted(group: nil, userName: nil)
        guard case .send = machine.picked(Self.account(1), skipped: [], now: Self.now) else {
            Issue.record("expected a send")
            return
        }
        // Its slot goes back unblamed, and the next pick leaves it out; the one attempt allowed is still there.
        guard case .pick(let excluding, .notBlamed(0)?) = machine.fullElsewhere(.requestCap(until: Self.now.addingTimeInterval(30))) else {
            Issue.record("expected another pick")
            return
        }
        #expect(excluding == [Attempted(account: 1, model: "m")])
        guard case .send = machine.picked(Self.account(2), skipped: [], now: Self.now) else {
            Issue.record("expected a send to the second account")
            return
        }
        guard case .pick = machine.fullElsewhere(.full(canWait: false)) else {
            Issue.record("expected another pick")
            return
        }
        // None left: the refusal names the soonest recovery of the accounts other replicas filled.
        guard case .finish(let finish) = machine.noAccount(skipped: [], now: Self.now), case .error(let error, _) = finish.answer else {
            Issue.record("expected a refusal")
            return
        }
        #expect(error.code == .accountsAtCapacity && error.retryAfterSeconds == 30 && finish.row.attempts == 0)
    }

    @Test func accountsRestingAfterAnOverloadAnswer529() {
        let cooling = [AccountPool.Skipped(account: Self.account(1), reason: .coolingDown(until: Self.now.addingTimeInterval(5), cause: .overloaded))]
        #expect(RelayMachine.refusal(skipped: cooling, now: Self.now).0.code == .upstreamOverloaded)
        let limited = [
            AccountPool.Skipped(account: Self.account(1), reason: .coolingDown(until: Self.now.addingTimeInterval(5), cause: .rateLimited))
        ]
        #expect(RelayMachine.refusal(skipped: limited, now: Self.now).0.code == .accountsCoolingDown)
    }

    /// A cooldown's refusal says why the accounts rest: waiting helps after
    /// rate limits; after 404s an account needs fixing.
    @Test func aCooldownRefusalNamesItsCause() {
        func refusal(_ causes: [CooldownCause]) -> GatewayError {
            let skipped = causes.enumerated().map { index, cause in
                AccountPool.Skipped(
                    account: Self.account(Int64(index + 1)), reason: .coolingDown(until: Self.now.addingTimeInterval(5), cause: cause))
            }
            return RelayMachine.refusal(skipped: skipped, now: Self.now).0
        }
        #expect(refusal([.rateLimited]).message.contains("rate limits (429)"))
        #expect(refusal([.transientFailures]).message.contains("repeated failures"))
        let notFound = refusal([.notFound, .notFound])
        #expect(notFound.code == .accountsCoolingDown && notFound.message.contains("404") && notFound.message.contains("base_url"))
        let mixed = refusal([.rateLimited, .notFound])
        #expect(mixed.message.contains("1 after rate limits") && mixed.message.contains("1 after the provider answered 404"))
        #expect(mixed.retryAfterSeconds == 5)
    }

    @Test func claudeCodesWarmupIsAnsweredLocallyAtNoCost() {
        var machine = Self.machine(localAnswer: .warmup)
        var ledger = Ledger()
        ledger.take(machine.admitted(group: nil, userName: nil))
        ledger.leases += 1
        ledger.take(machine.picked(Self.account(1, warmup: true), skipped: [], now: Self.now))
        ledger.expectSettledOnce()
        #expect(ledger.finishes[0].row.outcome == .warmupIntercepted && ledger.finishes[0].row.cost == .zero)
    }

    @Test func countingIsRecordedWithoutCost() {
        var machine = Self.machine(billable: false)
        var ledger = Ledger()
        ledger.take(machine.admitted(group: nil, userName: nil))
        _ = machine.picked(Self.account(1), skipped: [], now: Self.now)
        ledger.leases += 1
        ledger.take(machine.answered(status: 200, reported: TokenUsage(inputUncached: 50), estimated: .zero))
        ledger.expectSettledOnce()
        #expect(ledger.finishes[0].row.cost == .zero && ledger.finishes[0].row.usageSource == .none)
    }

    /// Random event sequences, a thousand of them: whatever arrives in whatever
    /// order, one settlement, and every lease back exactly once.
    @Test func anyOrderOfEventsSettlesOnceAndLeaksNoLease() {
        var generator = SplitMix(seed: 7)
        for _ in 0..<1000 {
            var machine = Self.machine(attempts: 1 + Int(generator.next() % 3), disconnect: generator.next() % 2 == 0 ? .drain : .estimate)
            var ledger = Ledger()
            var holdsLease = false
            var nextAccount: Int64 = 1
            for _ in 0..<12 {
                let step: RelayStep
                switch generator.next() % 11 {
                case 0: step = machine.admitted(group: nil, userName: nil)
                case 1:
                    // The driver picks only when asked and no lease is held.
                    guard !holdsLease, machine.state == .choosing || machine.state == .waitingForAccount else { continue }
                    step = machine.picked(Self.account(nextAccount), skipped: [], now: Self.now)
                    nextAccount += 1
                    ledger.leases += 1
                    holdsLease = true
                case 2: step = machine.attemptFailed(AttemptFailure(failureClass: .transient, detail: "x"))
                case 3: step = machine.answered(status: 200, reported: nil, estimated: TokenUsage(inputUncached: 1))
                case 4: step = machine.streamCommitted(status: 200)
                case 5: step = machine.streamEnded(.completed, progress: StreamProgress(completed: true))
                case 6: step = machine.streamEnded(.clientGone, progress: StreamProgress())
                case 7: step = machine.drainEnded(StreamProgress())
                case 8: step = machine.clientGone()
                case 9: step = machine.noAccount(skipped: [], now: Self.now)
                default: step = machine.refuse(GatewayError(.keyRateLimited), outcome: .refused)
                }
                if case .pick(_, let releasing) = step, releasing != nil { holdsLease = false }
                if case .finish = step { holdsLease = false }
                ledger.take(step)
            }
            // However it stands, the request ends: the client goes (and a drain runs out).
            if ledger.finishes.isEmpty { ledger.take(machine.clientGone()) }
            if ledger.finishes.isEmpty { ledger.take(machine.drainEnded(StreamProgress())) }
            if ledger.finishes.last?.release != nil { holdsLease = false }
            #expect(ledger.finishes.count == 1)
            #expect(ledger.releases.count == ledger.leases)
            #expect(!holdsLease)
        }
    }
}

/// A small seeded generator, so a failing sequence can be replayed.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
