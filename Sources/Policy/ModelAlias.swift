import Synchronization

/// A model name clients ask for that stands for other models (`models:`):
/// its targets in order, each a model name with an optional weight. Without
/// weights the first usable target serves and the rest are fallbacks; with
/// weights, traffic is shared among them in proportion and the others stay
/// fallbacks for each request.
public struct ModelAlias: Sendable, Equatable, Codable {
    public var name: String
    public var targets: [Target]
    /// Attempts after the first for a request to this alias, instead of the global `max_failovers`.
    public var maxFailovers: Int?

    public struct Target: Sendable, Equatable, Codable {
        public var model: String
        /// Its share of traffic (1 to 1,000); nil when the alias is an ordered fallback list.
        public var weight: Int?

        public init(model: String, weight: Int? = nil) {
            self.model = model
            self.weight = weight
        }
    }

    public init(name: String, targets: [Target], maxFailovers: Int? = nil) {
        self.name = name
        self.targets = targets
        self.maxFailovers = maxFailovers
    }

    /// Whether traffic is shared by weight rather than served in order.
    public var isWeighted: Bool { targets.contains { $0.weight != nil } }

    /// The most targets an alias may have.
    public static let maxTargets = 32
}

/// Which target of each weighted alias serves next: smooth weighted round
/// robin (each turn every target gains its weight, the one furthest ahead
/// serves and gives back the total), so a 3:1 alias serves in the pattern
/// a a b a, exact over every four requests, without randomness.
public final class AliasRotation: Sendable {
    private let current = Mutex<[String: [Int]]>([:])

    public init() {}

    /// The alias's targets in the order this request tries them: the one whose
    /// turn it is first, then the others as listed.
    public func order(_ alias: ModelAlias) -> [ModelAlias.Target] {
        guard alias.isWeighted, alias.targets.count > 1 else { return alias.targets }
        let weights = alias.targets.map { max(1, $0.weight ?? 1) }
        let chosen = current.withLock { table -> Int in
            var scores = table[alias.name].flatMap { $0.count == weights.count ? $0 : nil } ?? Array(repeating: 0, count: weights.count)
            for index in scores.indices { scores[index] += weights[index] }
            let best = scores.indices.max { (scores[$0], -$0) < (scores[$1], -$1) } ?? 0
            scores[best] -= weights.reduce(0, +)
            table[alias.name] = scores
            return best
        }
        return [alias.targets[chosen]] + alias.targets.enumerated().filter { $0.offset != chosen }.map(\.element)
    }
}
