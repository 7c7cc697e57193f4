import Dialects
import Policy
import Storage
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The life of one request as decisions: admit → choose an account → attempt →
/// fail over → relay → settle → record.
///
/// Pure: events in, a `RelayStep` out; no I/O, no clock (times arrive with the
/// events that need them). It is the only place that decides to release an
/// account lease, settle the key's hold, and emit the ledger row, and it emits
/// each exactly once: every event after the request finished is ignored. The
/// driver (`Exchange`) performs the steps and feeds back what happened.
struct RelayMachine: Sendable {
    /// How the request ends when the client leaves a stream early.
    let disconnect: DisconnectPolicy
    /// Attempts allowed: the first and its failovers.
    private(set) var maxAttempts: Int
    /// Attempts allowed on the accounts of a provider (`providers: {P: {max_failovers}}`), where capped.
    private var providerAttempts: [Provider: Int] = [:]
    /// Attempts made so far on each provider's accounts.
    private var attemptsOn: [Provider: Int] = [:]

    /// Providers whose accounts may not be tried again for this request.
    var exhaustedProviders: Set<Provider> {
        Set(providerAttempts.compactMap { provider, cap in attemptsOn[provider, default: 0] >= cap ? provider : nil })
    }
    /// Whether the request is billed by usage (counting tokens is not).
    let billable: Bool
    /// What the request is, for pricing and estimates.
    let facts: RequestFacts
    /// Prices the usage: list price and whether the model has one (`model`: what
    /// the account was asked for, the price when the upstream name has none).
    let price: @Sendable (TokenUsage, _ model: String, _ upstreamModel: String, _ provider: Provider) -> (TokenCosts, Bool)

    private(set) var state: RelayState = .open
    private var row: LedgerRow
    private var tried: Set<Attempted> = []
    /// Accounts other replicas filled (their shared caps): not tried, not to be picked again, and why.
    private var fullElsewhere: [Attempted: AccountPool.Skipped] = [:]
    /// What a pick passes over: what was tried and what other replicas filled.
    private var excluded: Set<Attempted> { tried.union(fullElsewhere.keys) }
    private var route = Route()
    private var lastFailure: AttemptFailure?
    private var waitedForAccount = false
    /// The key's slot and hold are taken: the row's cost is charged to it.
    private var holdsKey = false
    /// The owner's group, whose multiplier turns list price into the charge.
    private var group: GroupEntry?
    /// The account a lease is held on, for the attempt under way.
    private var attempt: Attempt?
    /// Bytes already went to the client (a 200 with keepalives): errors are stream events.
    private var headSent = false

    init(
        row: LedgerRow, facts: RequestFacts, maxAttempts: Int, disconnect: DisconnectPolicy, billable: Bool = true,
        price: @escaping @Sendable (TokenUsage, String, String, Provider) -> (TokenCosts, Bool)
    ) {
        self.row = row
        self.facts = facts
        self.maxAttempts = max(1, maxAttempts)
        self.disconnect = disconnect
        self.billable = billable
        self.price = price
    }

    /// The account an attempt is on.
    struct Attempt: Sendable, Equatable {
        var account: AccountEntry
        /// What the account was asked for (an alias's target, else the client's model), and the name sent.
        var model: String
        var upstreamModel: String
    }

    /// Whether the request has settled.
    var isFinished: Bool { state == .finished }

    // MARK: before an account

    /// The request is refused before or between attempts (a policy, a limit, a
    /// body that cannot be carried): it ends with this error.
    mutating func refuse(_ error: GatewayError, outcome: Outcome) -> RelayStep {
        guard state != .finished else { return .none }
        return finish(
            outcome: outcome, status: error.status(in: facts.dialect), errorCode: error.code.rawValue,
            release: attempt.map { _ in .notBlamed(tokens: 0) }, usage: nil, answer: .error(error, retryAfter: .given))
    }

    /// The route decided before any account was asked: alias targets passed
    /// over, the alias's own failover limit, if it has one, and the providers'.
    mutating func routed(passed: [(model: String, reason: String)], maxFailovers: Int?, providerFailovers: [Provider: Int] = [:]) {
        for (model, reason) in passed { route.passed(model, reason) }
        row.route = route.text
        if let maxFailovers { maxAttempts = 1 + max(0, maxFailovers) }
        providerAttempts = providerFailovers.mapValues { 1 + max(0, $0) }
    }

    /// The client's queue for a key slot answered at once with a stream (its
    /// head and keepalives are out): later errors are stream events.
    mutating func headWasSent() { headSent = true }

    /// The key admitted the request: its slot, window entry and hold are taken.
    mutating func admitted(group: GroupEntry?, userName: String?) -> RelayStep {
        guard state == .open else { return .none }
        holdsKey = true
        self.group = group
        row.userName = userName ?? row.userName
        state = .choosing
        return .pick(excluding: excluded)
    }

    /// The pool granted an account (`skipped`: those passed over, in order).
    /// `model` is what this account is asked for: an alias's target, else the client's model.
    mutating func picked(
        _ account: AccountEntry, model: String? = nil, choice: AccountChoice = .ranked, skipped: [AccountPool.Skipped], now: Date
    ) -> RelayStep {
        guard state == .choosing || state == .waitingForAccount else { return .none }
        route.note(skipped, now: now)
        tried.insert(Attempted(account: account.id, model: model ?? facts.model))
        attemptsOn[account.provider, default: 0] += 1
        let upstreamModel = account.upstreamModel(for: model ?? facts.model)
        attempt = Attempt(account: account, model: model ?? facts.model, upstreamModel: upstreamModel)
        row.accountID = account.id
        row.accountName = account.name
        row.provider = account.provider.rawValue
        row.upstreamModel = upstreamModel
        row.attempts = tried.count
        row.route = route.text
        row.selection = choice.rawValue
        if account.interceptWarmup, let kind = facts.localAnswer {
            return finish(
                outcome: kind.outcome, status: 200, errorCode: nil, release: .notBlamed(tokens: 0),
                usage: nil, priced: true, answer: .local(kind))
        }
        state = .attempting
        return .send(account, upstreamModel: upstreamModel)
    }

    /// The account picked has no room under its caps across replicas (another
    /// replica fills them): not an attempt; another account is picked, and
    /// when none is left, this one explains why.
    mutating func fullElsewhere(_ reason: SkipReason) -> RelayStep {
        guard state == .attempting, let current = attempt else { return .none }
        let attempted = Attempted(account: current.account.id, model: current.model)
        tried.remove(attempted)
        fullElsewhere[attempted] = AccountPool.Skipped(account: current.account, reason: reason)
        attemptsOn[current.account.provider, default: 1] -= 1
        row.attempts = tried.count
        attempt = nil
        state = .choosing
        return .pick(excluding: excluded, releasing: .notBlamed(tokens: 0))
    }

    /// No account can take the request now.
    mutating func noAccount(skipped: [AccountPool.Skipped], now: Date) -> RelayStep {
        guard state == .choosing || state == .waitingForAccount else { return .none }
        let skipped = skipped + fullElsewhere.values.sorted { $0.account.id < $1.account.id }
        // Everything is full: queue once for the first account with room in its
        // queue, unless an attempt already failed.
        if lastFailure == nil, !waitedForAccount, let queued = skipped.first(where: { $0.reason == .full(canWait: true) }) {
            waitedForAccount = true
            route.note(skipped.filter { $0.account.id != queued.account.id }, now: now)
            state = .waitingForAccount
            return .waitForAccount(queued.account)
        }
        route.note(skipped, now: now)
        row.route = route.text
        if let lastFailure { return failedUpstream(lastFailure) }
        let (error, retryAfter) = Self.refusal(skipped: skipped, now: now)
        return finish(
            outcome: .noAccount, status: error.status(in: facts.dialect), errorCode: error.code.rawValue, release: nil,
            usage: nil, answer: .error(error, retryAfter: retryAfter))
    }

    /// The wait for a slot on a full account ended without one (it ran out, or
    /// the account stopped being usable): look again, once.
    mutating func accountWaitFailed() -> RelayStep {
        guard state == .waitingForAccount else { return .none }
        state = .choosing
        return .pick(excluding: excluded)
    }

    // MARK: an attempt

    /// The attempt failed before anything reached the client: fail over while
    /// attempts remain, else answer with the failure.
    mutating func attemptFailed(_ failure: AttemptFailure) -> RelayStep {
        guard state == .attempting, let current = attempt else { return .none }
        lastFailure = failure
        route.failed(current.account.name, failure.failureClass)
        row.route = route.text
        let release = AttemptOutcome.failed(failure.failureClass, retryAfter: failure.retryAfter, detail: failure.detail)
        // The last attempt's lease goes back with the settlement; an earlier one's before the next pick.
        guard tried.count < maxAttempts else { return failedUpstream(failure, release: release) }
        attempt = nil
        state = .choosing
        return .pick(excluding: excluded, releasing: release)
    }

    /// The attempt could not start for want of the gateway's own resources (no
    /// socket could be opened): no account is blamed, none other is tried (it
    /// would need a socket as well), and the client hears 503.
    mutating func gatewayExhausted() -> RelayStep {
        guard state == .attempting else { return .none }
        let error = GatewayError(.upstreamUnavailable)
        return finish(
            outcome: .upstreamError, status: error.status(in: facts.dialect), errorCode: error.code.rawValue,
            release: .notBlamed(tokens: 0), usage: nil, answer: .error(error, retryAfter: .given))
    }

    /// The request cannot be carried to the account chosen (it would need a
    /// translation it has no form for): the client's mistake on a first
    /// attempt; on a failover, the earlier failure is the answer and this
    /// account is not blamed.
    mutating func cannotCarry(_ error: GatewayError) -> RelayStep {
        guard state == .attempting else { return .none }
        if let lastFailure { return failedUpstream(lastFailure, release: .notBlamed(tokens: 0)) }
        return refuse(error, outcome: .clientError)
    }

    /// The upstream flagged the account itself: the request ends here with
    /// `error`, no failover; the account is marked as for a refused credential.
    mutating func banned(_ error: GatewayError, detail: String) -> RelayStep {
        guard state == .attempting, let current = attempt else { return .none }
        route.failed(current.account.name, .credential)
        row.route = route.text
        return finish(
            outcome: .upstreamError, status: error.status(in: facts.dialect), errorCode: error.code.rawValue,
            release: .failed(.credential, retryAfter: nil, detail: detail), usage: nil, answer: .error(error, retryAfter: .given))
    }

    /// The upstream said the client's request is wrong (a 4xx other than the
    /// account's own troubles): the client hears it, the account is not blamed.
    mutating func callerFault(status: Int) -> RelayStep {
        guard state == .attempting else { return .none }
        return finish(
            outcome: .clientError, status: status, errorCode: "upstream_\(status)", release: .notBlamed(tokens: 0),
            usage: nil, answer: .upstreamRefusal(status: status))
    }

    /// A whole (JSON) answer arrived. `reported` is the upstream's usage;
    /// `estimated` stands in when it reported none.
    /// `estimated` is read only when nothing was reported.
    mutating func answered(status: Int, reported: TokenUsage?, estimated: @autoclosure () -> TokenUsage) -> RelayStep {
        guard state == .attempting else { return .none }
        let usage = billable ? (reported.map { ($0, UsageSource.reported) } ?? (estimated(), .estimated)) : nil
        return finish(
            outcome: .ok, status: status, errorCode: nil, release: .served(tokens: usage?.0.total ?? 0), usage: usage,
            answer: .upstreamBody)
    }

    /// The first stream event is ready to go: from here on the client has the
    /// answer, and failures end the stream instead of failing over.
    mutating func streamCommitted(status: Int) -> RelayStep {
        guard state == .attempting else { return .none }
        state = .streaming
        row.stream = true
        row.status = status
        return headSent ? .continueStream : .startStream
    }

    /// The committed stream ended, one way or another.
    mutating func streamEnded(_ end: StreamEnd, progress: StreamProgress) -> RelayStep {
        guard state == .streaming else { return .none }
        row.deliveredBytes = progress.deliveredBytes
        let usage = usage(of: progress)
        let tokens = usage?.0.total ?? 0
        let status = row.status
        switch end {
        case .completed where progress.upstreamErrorType == nil:
            return finish(outcome: .ok, status: status, errorCode: nil, release: .served(tokens: tokens), usage: usage, answer: .streamEnd(nil))
        case .completed, .upstreamError:
            // The upstream reported its error in the stream: the client saw it already.
            let type = progress.upstreamErrorType ?? "error"
            let failureClass = FailureClass.classify(errorType: type)
            let release: AttemptOutcome =
                failureClass == .callerFault
                ? .notBlamed(tokens: tokens) : .failed(failureClass, retryAfter: nil, detail: "stream error \(type)")
            return finish(
                outcome: .upstreamError, status: status, errorCode: String(type.prefix(64)), release: release, usage: usage,
                answer: .streamEnd(nil))
        case .endedEarly:
            return finish(
                outcome: .upstreamError, status: status, errorCode: "stream_truncated",
                release: .failed(.transient, retryAfter: nil, detail: "stream ended early"), usage: usage,
                answer: .streamEnd(GatewayError(.upstreamBadResponse, message: "The upstream stream ended early.")))
        case .broke(let failure):
            return finish(
                outcome: .upstreamError, status: status, errorCode: failure.rawValue,
                release: .failed(.transient, retryAfter: nil, detail: "stream broke: \(failure.rawValue)"), usage: usage,
                answer: .streamEnd(GatewayError(failure == .idleTimeout ? .upstreamTimeout : .upstreamUnavailable)))
        case .eventTooLarge:
            return finish(
                outcome: .upstreamError, status: status, errorCode: "stream_event_too_large",
                release: .failed(.transient, retryAfter: nil, detail: "stream event too large"), usage: usage,
                answer: .streamEnd(GatewayError(.upstreamBadResponse)))
        case .shutdown:
            return finish(
                outcome: .cancelled, status: status, errorCode: "shutting_down", release: .notBlamed(tokens: tokens),
                usage: usage, answer: .streamEnd(GatewayError(.shuttingDown)))
        case .clientGone:
            if progress.completed || disconnect == .estimate {
                return finish(
                    outcome: .clientDisconnected, status: status, errorCode: nil, release: .notBlamed(tokens: tokens),
                    usage: usage, answer: .none)
            }
            // Keep reading (bounded) for the usage the upstream will report.
            state = .draining
            return .drain
        }
    }

    /// Draining after the client left is over (usage seen, or the bound hit).
    mutating func drainEnded(_ progress: StreamProgress) -> RelayStep {
        guard state == .draining else { return .none }
        let usage = usage(of: progress)
        return finish(
            outcome: .clientDisconnected, status: row.status, errorCode: nil, release: .notBlamed(tokens: usage?.0.total ?? 0),
            usage: usage, answer: .none)
    }

    /// The client went away before a stream carried the answer (while waiting
    /// for a slot, during an attempt, before the first event), or the request
    /// was dropped unfinished.
    mutating func clientGone() -> RelayStep {
        switch state {
        case .finished:
            return .none
        case .streaming:
            return streamEnded(.clientGone, progress: StreamProgress())
        case .draining:
            return drainEnded(StreamProgress())
        case .open, .choosing, .waitingForAccount, .attempting:
            return finish(
                outcome: .clientDisconnected, status: 499, errorCode: "client_gone",
                release: attempt.map { _ in .notBlamed(tokens: 0) }, usage: nil, answer: .none)
        }
    }

    /// The request is dropped unfinished (its response was never run): it ends
    /// now, whatever it was doing, with what is known; a stream is billed an
    /// estimate, since nothing is left to drain.
    mutating func abandoned() -> RelayStep {
        switch state {
        case .streaming, .draining:
            let usage = usage(of: StreamProgress())
            return finish(
                outcome: .clientDisconnected, status: row.status, errorCode: "client_gone", release: .notBlamed(tokens: usage?.0.total ?? 0),
                usage: usage, answer: .none)
        default:
            return clientGone()
        }
    }

    // MARK: ending

    /// The answer when every attempt failed: the last failure's class decides.
    private mutating func failedUpstream(_ failure: AttemptFailure, release: AttemptOutcome? = nil) -> RelayStep {
        let error = failure.timedOut ? GatewayError(.upstreamTimeout) : GatewayError(failure.failureClass.clientError)
        let retryAfter: RetryAfterSource =
            failure.failureClass == .rateLimited || failure.failureClass == .overloaded
            ? .soonestCooldown(fallback: failure.retryAfter) : .given
        return finish(
            outcome: .upstreamError, status: error.status(in: facts.dialect), errorCode: error.code.rawValue, release: release,
            usage: nil, answer: .error(error, retryAfter: retryAfter))
    }

    /// Usage a stream is billed for: what the upstream reported when the stream
    /// completed, else the larger of the reported parts and an estimate from
    /// the request and the delivered text.
    private func usage(of progress: StreamProgress) -> (TokenUsage, UsageSource)? {
        guard billable else { return nil }
        if progress.completed, let reported = progress.usage { return (reported, .reported) }
        return (
            UsageEstimate.merge(reported: progress.usage, promptBytes: facts.promptBytes, outputTextBytes: progress.deliveredTextBytes),
            .estimated
        )
    }

    /// The one settlement: releases the account lease (if held), charges the
    /// key (if admitted) the row's cost, and emits the row and the answer.
    private mutating func finish(
        outcome: Outcome, status: Int, errorCode: String?, release: AttemptOutcome?, usage: (TokenUsage, UsageSource)?,
        priced: Bool = false, answer: RelayAnswer
    ) -> RelayStep {
        let streaming = state == .streaming || state == .draining
        state = .finished
        row.outcome = outcome
        row.status = status
        row.errorCode = errorCode ?? row.errorCode
        row.route = route.text
        if let (tokens, source) = usage, let attempt {
            let (costs, hasPrice) = price(tokens, attempt.model, attempt.upstreamModel, attempt.account.provider)
            let list = costs.total
            row.listCosts = costs
            row.usage = tokens
            row.usageSource = source
            row.usageIncomplete = source != .reported
            row.upstreamCost = list
            row.priced = hasPrice
            row.cost = group?.charge(list) ?? list
        } else {
            row.usageSource = .none
            row.priced = priced || row.priced
        }
        let releasing = attempt == nil ? nil : release
        attempt = nil
        let charge = holdsKey ? KeyCharge(cost: row.cost, tokens: row.usage.total) : nil
        holdsKey = false
        return .finish(RelayFinish(release: releasing, charge: charge, row: row, answer: answer, inStream: headSent || streaming))
    }

    /// Why every account is resting, by cause, so the client (and whoever reads
    /// its logs) knows whether to wait or to fix an account.
    static func coolingMessage(_ skipped: [AccountPool.Skipped]) -> String {
        var counts: [CooldownCause: Int] = [:]
        for case .coolingDown(_, let cause) in skipped.map(\.reason) { counts[cause, default: 0] += 1 }
        func said(_ cause: CooldownCause) -> String {
            switch cause {
            case .rateLimited: return "after rate limits (429)"
            case .overloaded: return "after the provider said it is overloaded"
            case .transientFailures: return "after repeated failures (connection errors, timeouts or 5xx answers)"
            case .notFound: return "after the provider answered 404 (not found): check the account's base_url and model_map"
            }
        }
        let order: [CooldownCause] = [.rateLimited, .overloaded, .transientFailures, .notFound]
        let causes = order.filter { counts[$0] != nil }
        guard causes.count > 1 else {
            return "Every upstream account for this model is cooling down \(said(causes.first ?? .rateLimited)). Retry after the time given."
        }
        let listed = causes.map { "\(counts[$0] ?? 0) \(said($0))" }.joined(separator: "; ")
        return "Every upstream account for this model is cooling down: \(listed). Retry after the time given."
    }

    /// The client's error when no account could take the request: 529 when
    /// every one rests after an overload, 429 with the soonest recovery when
    /// all are only temporarily out, else 503.
    static func refusal(skipped: [AccountPool.Skipped], now: Date) -> (GatewayError, RetryAfterSource) {
        let temporary = skipped.filter(\.reason.isTemporary)
        guard !temporary.isEmpty else { return (GatewayError(.noUsableAccount), .given) }
        func cooling(_ cause: CooldownCause?) -> Bool {
            temporary.allSatisfy {
                guard case .coolingDown(_, let actual) = $0.reason else { return false }
                return cause == nil || actual == cause
            }
        }
        let code: GatewayError.Code = cooling(.overloaded) ? .upstreamOverloaded : cooling(nil) ? .accountsCoolingDown : .accountsAtCapacity
        var error = GatewayError(code)
        if code == .accountsCoolingDown { error.message = coolingMessage(temporary) }
        error.retryAfterSeconds = temporary.compactMap(\.reason.recovery).min().map { RetryAfter.seconds(until: $0, now: now) } ?? 1
        return (error, .given)
    }
}

/// Where a request is in its life.
enum RelayState: Sendable, Equatable {
    /// Known key and body, not admitted yet.
    case open
    /// Admitted; choosing an account.
    case choosing
    /// Queued for a slot on a full account.
    case waitingForAccount
    /// Sent to an account; nothing of the answer reached the client.
    case attempting
    /// The answer is streaming to the client.
    case streaming
    /// The client left; reading the upstream to its usage.
    case draining
    /// Settled: nothing more happens.
    case finished
}

/// An account tried for a model: not asked for that model again (an alias's
/// fallback to another model may still go to it).
struct Attempted: Hashable, Sendable {
    var account: Int64
    var model: String
}

/// What the driver does next.
enum RelayStep: Sendable {
    /// Nothing (the event came too late to matter).
    case none
    /// Ask the pool for an account, never again for a model it was tried
    /// with (`excluding`); first release the failed attempt's lease with `releasing`.
    case pick(excluding: Set<Attempted>, releasing: AttemptOutcome? = nil)
    /// Queue for a slot on this full account.
    case waitForAccount(AccountEntry)
    /// Send the request to this account.
    case send(AccountEntry, upstreamModel: String)
    /// Answer with the stream (its head goes now).
    case startStream
    /// Go on with the stream in a response already started (after keepalives).
    case continueStream
    /// The client left: keep reading the upstream for its usage, within bounds.
    case drain
    /// Settle and answer.
    case finish(RelayFinish)
}

/// The one settlement of a request.
struct RelayFinish: Sendable {
    /// How the attempt's account lease goes back (nil: none held).
    var release: AttemptOutcome?
    /// What the key's hold turns into (nil: the key was never admitted).
    var charge: KeyCharge?
    /// The request's ledger row.
    var row: LedgerRow
    /// What the client gets.
    var answer: RelayAnswer
    /// Whether the client already has a response under way (errors become stream events).
    var inStream: Bool
}

/// The real cost and tokens a key is charged when its hold is released.
struct KeyCharge: Sendable, Equatable {
    var cost: Money
    var tokens: Int64
}

/// What the client is answered.
enum RelayAnswer: Sendable {
    /// An error in the client's format (a stream event when a response is under way).
    case error(GatewayError, retryAfter: RetryAfterSource)
    /// The upstream's whole answer, as the driver holds it.
    case upstreamBody
    /// The upstream's refusal of the client's request, passed on.
    case upstreamRefusal(status: Int)
    /// An answer made locally (Claude Code's warmup, title, topic).
    case local(LocalAnswer.Kind)
    /// End the stream, after this error event if there is one.
    case streamEnd(GatewayError?)
    /// Nobody to answer: the client left.
    case none
}

/// Where an error's `Retry-After` comes from.
enum RetryAfterSource: Sendable, Equatable {
    /// The error carries its own (or none).
    case given
    /// The soonest end of the accounts' cooldowns, read from the pool; else this hint.
    case soonestCooldown(fallback: Duration?)
}

/// How a committed stream ended.
enum StreamEnd: Sendable, Equatable {
    /// The upstream's end marker (or its own error event) arrived.
    case completed
    /// The upstream reported an error inside the stream.
    case upstreamError
    /// The upstream closed cleanly before its end.
    case endedEarly
    /// The connection broke or went silent.
    case broke(TransportFailure)
    /// An event larger than the gateway reads.
    case eventTooLarge
    /// Shutdown ran out of time.
    case shutdown
    /// The client stopped reading.
    case clientGone

    /// A fixed detail for a stream the upstream did not finish as it should; nil otherwise.
    var failure: String? {
        switch self {
        case .completed, .shutdown, .clientGone: return nil
        case .upstreamError: return "stream_error"
        case .endedEarly: return "stream_ended_early"
        case .broke(let failure): return failure.rawValue
        case .eventTooLarge: return "stream_event_too_large"
        }
    }
}

/// What a stream carried, as far as billing cares.
struct StreamProgress: Sendable, Equatable {
    /// Usage the upstream reported so far.
    var usage: TokenUsage?
    /// Whether the upstream's end (with its final usage) arrived.
    var completed = false
    /// An error type the upstream reported in the stream.
    var upstreamErrorType: String?
    /// Bytes the client received.
    var deliveredBytes: Int64 = 0
    /// Bytes of generated text (and tool arguments) among them.
    var deliveredTextBytes: Int64 = 0
}

/// What the client gets when it leaves a stream before its usage arrived.
public enum DisconnectPolicy: String, Sendable, Equatable {
    /// Keep reading the upstream (bounded) to bill its reported usage.
    case drain
    /// Bill an estimate from the request and what was delivered.
    case estimate
}

/// The facts of a request the machine decides and bills with.
struct RequestFacts: Sendable, Equatable {
    var dialect: Dialect
    var model: String
    /// Bytes of the request body: the input estimate when usage never comes.
    var promptBytes: Int
    /// Which of Claude Code's background requests this is, if any.
    var localAnswer: LocalAnswer.Kind?
}

/// What one failed attempt left behind, to decide the final answer.
struct AttemptFailure: Sendable, Equatable {
    var failureClass: FailureClass
    var detail: String
    var retryAfter: Duration?
    var timedOut = false
}
