import Policy
import SwitchboardCore

/// Reads a provider's settings from JSON with the config file's names: the one
/// reader the config file, the admin API and the CLI share.
public enum ProviderSettings {
    /// The fields a provider's settings may carry.
    public static let fields = ["max_failovers"]

    /// The settings of the provider named `name`, as `value` declares them.
    public static func setting(_ name: String, _ value: JSONValue) throws(AdminError) -> ProviderSetting {
        guard let provider = Provider(rawValue: name) else {
            throw AdminError(
                .invalid,
                "providers: \(jsonStringLiteral(String(name.prefix(40)))) is not a provider (\(Provider.allCases.map(\.rawValue).joined(separator: ", ")))"
            )
        }
        guard case .object(let fields) = value else { throw AdminError(.invalid, "providers.\(name) must be an object such as {max_failovers: 1}") }
        if let unknown = fields.keys.sorted().first(where: { !Self.fields.contains($0) }) {
            throw AdminError(.invalid, "providers.\(name): unknown field \(unknown); known: \(Self.fields.joined(separator: ", "))")
        }
        let maxFailovers = try fields["max_failovers"].flatMap { v throws(AdminError) in
            try SettingValue.whole(v, "providers.\(name).max_failovers", minimum: 0, maximum: 100).map(Int.init)
        }
        return ProviderSetting(provider: provider, maxFailovers: maxFailovers)
    }
}
