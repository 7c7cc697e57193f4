import Policy
import Prometheus
import Storage
import SwitchboardCore
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The gateway's Prometheus metrics. Request figures come from ledger rows as
/// they are stored (so they agree with the ledger and cost the request path
/// nothing); gauges are read when scraped. Every label value comes from a
/// bounded set: configured models, providers, accounts, fixed outcome and error
/// codes. A model no account serves is counted as `other`; no key secret,
/// prompt or client-chosen string becomes a label.
public final class GatewayMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    /// Seconds: requests take from milliseconds to many minutes (long streams).
    static let durationBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600]

    /// Seconds: what a gateway adds is well under a second, or something is wrong.
    static let overheadBuckets: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]

    /// Whether requests are also counted by key name (`metrics_key_labels`).
    let keyLabels: Bool

    /// How far each of the gateway's own counters (`GatewayStats`) has been
    /// added to its Prometheus counter, by metric name: a scrape adds what
    /// came since.
    private let exported = Mutex<[String: Int]>([:])

    public init(version: String, keyLabels: Bool = false) {
        self.keyLabels = keyLabels
        registry.makeGauge(descriptor: Self.name("build", "info", "The running build (always 1)."), labels: [("version", version)]).set(1.0)
    }

    /// Counts stored ledger rows: added up by series first, so a batch costs
    /// one registry lookup per series it touches, not several per row.
    func observe(_ rows: some Collection<LedgerRow>) {
        var tally = Tally(keyLabels: keyLabels)
        for row in rows { tally.add(row) }
        for (series, count) in tally.counts { registry.makeCounter(descriptor: series.metric.descriptor, labels: series.labels).increment(by: count) }
        for (series, picos) in tally.costs {
            registry.makeCounter(descriptor: series.metric.descriptor, labels: series.labels).increment(by: Double(picos) / 1e12)
        }
        for (series, values) in tally.samples {
            let histogram = registry.makeValueHistogram(
                descriptor: series.metric.descriptor, labels: series.labels,
                buckets: series.metric == .addedOverhead ? Self.overheadBuckets : Self.durationBuckets)
            for value in values { histogram.record(value) }
        }
    }

    /// The request metrics, by name.
    enum Metric: Hashable {
        case requests, requestDuration, firstByte, addedOverhead, failovers, refusals, tokens, cost

        var descriptor: MetricNameDescriptor {
            switch self {
            case .requests: return GatewayMetrics.name("requests", "total", "Requests with a valid key, by how they ended (one per ledger row).")
            case .requestDuration: return GatewayMetrics.name("request_duration", "seconds", "Time from the request's arrival to its last byte.")
            case .firstByte: return GatewayMetrics.name("first_byte", "seconds", "Time from the request's arrival to the first byte of its answer.")
            case .addedOverhead:
                return GatewayMetrics.name(
                    "added_overhead", "seconds", "What the gateway added to a request: its time less the time spent waiting on upstreams.")
            case .failovers: return GatewayMetrics.name("failovers", "total", "Attempts after a request's first.")
            case .refusals: return GatewayMetrics.name("refusals", "total", "Requests refused, by error code.")
            case .tokens: return GatewayMetrics.name("tokens", "total", "Tokens recorded, by class (output includes reasoning).")
            case .cost: return GatewayMetrics.name("cost_usd", "total", "Cost charged, in US dollars.")
            }
        }
    }

    /// One metric with its label values.
    struct Series: Hashable {
        var metric: Metric
        /// The label names: one of the constant lists in `Names` (shared, never copied).
        var names: [String]
        /// The label values in the names' order, held inline so that adding a
        /// row to a tally builds no array (it runs for every request).
        var values: Values

        init(_ metric: Metric, _ names: [String], _ values: Values) {
            self.metric = metric
            self.names = names
            self.values = values
        }

        var labels: [(String, String)] { names.indices.map { (names[$0], values[$0]) } }
    }

    /// Up to six label values.
    struct Values: Hashable {
        var v0 = "", v1 = "", v2 = "", v3 = "", v4 = "", v5 = ""

        init(_ v0: String, _ v1: String = "", _ v2: String = "", _ v3: String = "", _ v4: String = "", _ v5: String = "") {
            (self.v0, self.v1, self.v2, self.v3, self.v4, self.v5) = (v0, v1, v2, v3, v4, v5)
        }

        subscript(index: Int) -> String {
            switch index {
            case 0: return v0
            case 1: return v1
            case 2: return v2
            case 3: return v3
            case 4: return v4
            default: return v5
            }
        }
    }

    /// The label names of each series.
    enum Names {
        static let requests = ["dialect", "model", "provider", "status", "outcome"]
        static let requestsByKey = requests + ["key"]
        static let dialectOutcome = ["dialect", "outcome"]
        static let dialect = ["dialect"]
        static let provider = ["provider"]
        static let reason = ["reason"]
        static let modelClass = ["model", "class"]
        static let model = ["model"]
    }

    /// A batch's rows added up by series.
    struct Tally {
        let keyLabels: Bool
        var counts: [Series: Int64] = [:]
        var costs: [Series: Int64] = [:]
        var samples: [Series: [Double]] = [:]

        mutating func add(_ row: LedgerRow) {
            // A model reached an account only if the configuration names it.
            let model = row.accountName == nil ? "other" : GatewayMetrics.bounded(row.model ?? "other")
            let provider = row.provider ?? "none"
            let outcome = row.outcome.rawValue
            // Key names are the admin's own (bounded by the keys there are); never the key itself.
            let key = keyLabels ? GatewayMetrics.bounded(row.keyName ?? "none") : ""
            count(
                Series(
                    .requests, keyLabels ? Names.requestsByKey : Names.requests,
                    Values(row.dialect, model, provider, String(row.status), outcome, key)), 1)
            samples[Series(.requestDuration, Names.dialectOutcome, Values(row.dialect, outcome)), default: []].append(
                Double(row.latencyMs) / 1000)
            if let firstByte = row.firstByteMs {
                samples[Series(.firstByte, Names.dialect, Values(row.dialect)), default: []].append(Double(firstByte) / 1000)
            }
            if let upstream = row.upstreamMs {
                samples[Series(.addedOverhead, Names.dialect, Values(row.dialect)), default: []].append(
                    Double(max(0, row.latencyMs - upstream)) / 1000)
            }
            if row.attempts > 1 { count(Series(.failovers, Names.provider, Values(provider)), Int64(row.attempts - 1)) }
            if row.outcome == .refused {
                let reason = row.errorCode.flatMap { GatewayError.Code(rawValue: $0)?.rawValue } ?? "other"
                count(Series(.refusals, Names.reason, Values(reason)), 1)
            }
            let usage = row.usage
            func tokens(_ tokenClass: String, _ amount: Int64) {
                if amount > 0 { count(Series(.tokens, Names.modelClass, Values(model, tokenClass)), amount) }
            }
            tokens("input", usage.inputUncached)
            tokens("cache_read", usage.cacheRead)
            tokens("cache_write_5m", usage.cacheWrite5m)
            tokens("cache_write_1h", usage.cacheWrite1h)
            tokens("output", usage.output)
            tokens("reasoning", usage.reasoning)
            if row.cost > .zero {
                let series = Series(.cost, Names.model, Values(model))
                costs[series] = costs[series, default: 0].saturatingAdd(row.cost.picos)
            }
        }

        /// Adds to a counter's series, held at the bound instead of trapping (counts come from upstreams).
        private mutating func count(_ series: Series, _ amount: Int64) {
            counts[series, default: 0] = counts[series, default: 0].saturatingAdd(amount)
        }
    }

    /// The exposition text, with the gauges read now.
    public func scrape(gateway: Gateway) -> [UInt8] {
        registry.makeGauge(descriptor: Self.name("requests", "in_flight", "Requests admitted and not yet recorded."))
            .set(Double(gateway.ledger.openCount))
        registry.makeGauge(descriptor: Self.name("ledger_queue", "depth", "Ledger rows waiting to be written."))
            .set(Double(gateway.ledger.pendingCount))
        registry.makeGauge(descriptor: Self.name("ledger_rejected", "rows", "Rows the database refused even cut down (logged)."))
            .set(Double(gateway.ledger.rejectedCount))
        registry.makeGauge(descriptor: Self.name("ledger_failed", "writes", "Batch writes the database failed (retried row by row)."))
            .set(Double(gateway.ledger.failedWriteCount))
        let now = gateway.clock.now()
        for (account, status) in gateway.accountStatus() {
            for state in Self.accountStates {
                registry.makeGauge(
                    descriptor: Self.name("account", "state", "1 for the state each account is in."),
                    labels: [("account", account.name), ("provider", account.provider.rawValue), ("state", state)]
                ).set(status.state == state ? 1.0 : 0.0)
            }
            registry.makeGauge(descriptor: Self.name("account", "in_flight", "Requests on each account now."), labels: [("account", account.name)])
                .set(Double(status.inFlight))
            registry.makeGauge(
                descriptor: Self.name("account_cooldown", "seconds", "Seconds until each account's cooldown ends (0: none)."),
                labels: [("account", account.name)]
            ).set(max(0, status.cooldownUntil.map { $0.timeIntervalSince(now) } ?? 0))
        }
        let stats = gateway.stats
        catchUp(
            Self.name("unauthenticated_requests", "total", "Requests refused for want of a valid key (not in the ledger)."),
            to: stats.unauthenticatedRequests)
        catchUp(
            Self.name("malformed_requests", "total", "Requests with a valid key refused for an unreadable or malformed body (not in the ledger)."),
            to: stats.malformedRequests)
        catchUp(
            Self.name("unpriced_requests", "total", "Requests served for models the price table does not know (recorded at zero cost)."),
            to: stats.unpricedRequests)
        catchUp(
            Self.name(
                "upstream_out_of_descriptors", "total",
                "Upstream connections not opened for want of file descriptors (answered 503, no account blamed)."),
            to: stats.upstreamOutOfDescriptors)
        catchUp(Self.name("alerts_delivered", "total", "Alerts delivered to webhooks."), to: stats.alertsDelivered)
        catchUp(Self.name("alert_dead_letters", "total", "Alerts no attempt could deliver."), to: stats.alertDeadLetters)
        return exposition()
    }

    /// Brings a counter up to a count the gateway keeps itself. The difference
    /// is taken under the lock, so scrapes at once never add the same part twice.
    private func catchUp(_ descriptor: MetricNameDescriptor, to count: Int) {
        let added = exported.withLock { seen in
            let before = seen[descriptor.metricName, default: 0]
            seen[descriptor.metricName] = max(before, count)
            return max(0, count - before)
        }
        registry.makeCounter(descriptor: descriptor).increment(by: Int64(added))
    }

    /// The exposition text of what is recorded, gauges as last set.
    func exposition() -> [UInt8] { registry.emitToBuffer() }

    static let accountStates = ["ready", "disabled", "unhealthy", "cooling_down", "rpm_cap", "tpm_cap", "full"]

    /// A metric's name (`switchboard_NAME_UNIT`) and help.
    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "switchboard", metricName: metric, unitName: unit, helpText: help)
    }

    /// A label value kept short.
    static func bounded(_ text: String) -> String {
        // Counting characters walks grapheme breaks; a text of at most 128 bytes has at most 128 of them.
        text.utf8.count <= 128 || text.count <= 128 ? text : String(text.prefix(128))
    }
}
