import Policy
import SwitchboardCore

/// Reads a model alias from JSON with the config file's names: the one reader
/// the config file, the admin API and the CLI share. A list of targets, or an
/// object with `targets` and `max_failovers`; a target is a model name or
/// `{model: NAME, weight: N}`.
public enum AliasSettings {
    /// The fields an alias object may carry.
    public static let fields = ["targets", "max_failovers"]

    /// The alias `name` as `value` declares it.
    public static func alias(_ name: String, _ value: JSONValue) throws(AdminError) -> ModelAlias {
        guard !name.isEmpty, name.utf8.count <= 200, !Glob.isPattern(name) else {
            throw AdminError(.invalid, "an alias name must be 1 to 200 bytes, without * or ?")
        }
        var targets: JSONValue = value
        var maxFailovers: Int?
        if case .object(let fields) = value {
            if let unknown = fields.keys.sorted().first(where: { !Self.fields.contains($0) }) {
                throw AdminError(.invalid, "models.\(name): unknown field \(unknown); known: \(Self.fields.joined(separator: ", "))")
            }
            targets = fields["targets"] ?? .null
            maxFailovers = try fields["max_failovers"].flatMap { v throws(AdminError) in
                try SettingValue.whole(v, "models.\(name).max_failovers", minimum: 0, maximum: 100).map(Int.init)
            }
        }
        guard case .array(let items) = targets, (1...ModelAlias.maxTargets).contains(items.count) else {
            throw AdminError(.invalid, "models.\(name) must list 1 to \(ModelAlias.maxTargets) target models")
        }
        var seen = Set<String>()
        let parsed = try items.map { item throws(AdminError) -> ModelAlias.Target in
            let target: ModelAlias.Target
            switch item {
            case .string(let model): target = .init(model: model)
            case .object(let fields):
                if let unknown = fields.keys.sorted().first(where: { !["model", "weight"].contains($0) }) {
                    throw AdminError(.invalid, "models.\(name): a target's unknown field \(unknown); known: model, weight")
                }
                guard case .string(let model)? = fields["model"] else { throw AdminError(.invalid, "models.\(name): a target needs a model") }
                let weight = try fields["weight"].flatMap { v throws(AdminError) in
                    try SettingValue.whole(v, "models.\(name).weight", minimum: 1, maximum: 1000).map(Int.init)
                }
                target = .init(model: model, weight: weight)
            default: throw AdminError(.invalid, "models.\(name): a target is a model name or {model, weight}")
            }
            guard !target.model.isEmpty, target.model.utf8.count <= 200, !Glob.isPattern(target.model) else {
                throw AdminError(.invalid, "models.\(name): a target must be a model name of 1 to 200 bytes, without * or ?")
            }
            guard target.model != name else { throw AdminError(.invalid, "models.\(name) cannot target itself") }
            guard seen.insert(target.model).inserted else { throw AdminError(.invalid, "models.\(name) lists \(target.model) twice") }
            return target
        }
        var alias = ModelAlias(name: name, targets: parsed, maxFailovers: maxFailovers)
        // Weights on some targets only: the others share at weight 1.
        if alias.isWeighted { alias.targets = alias.targets.map { .init(model: $0.model, weight: $0.weight ?? 1) } }
        return alias
    }

    /// The alias as the config file and the admin API write it.
    public static func json(_ alias: ModelAlias) -> JSONValue {
        let targets = JSONValue.array(
            alias.targets.map { target in
                target.weight.map { .object(["model": .string(target.model), "weight": .number(Double($0))]) } ?? .string(target.model)
            })
        guard let maxFailovers = alias.maxFailovers else { return .object(["targets": targets]) }
        return .object(["targets": targets, "max_failovers": .number(Double(maxFailovers))])
    }
}
