import Foundation
import Policy
import SwitchboardCore

/// Reads one setting's value out of JSON, with an error that names the
/// setting. Every source of settings comes here as JSON: the admin API's body,
/// the console's form, the CLI's flags and the config file's YAML. A number or
/// a flag may come as text (`"5"`, `"true"`), as a config file's `${VAR}` gives it.
public enum SettingValue {
    /// Text, or nil for `null`.
    public static func text(_ value: JSONValue, _ name: String) throws(AdminError) -> String? {
        switch value {
        case .null: return nil
        case .string(let text): return text
        default: throw AdminError(.invalid, "\(name) must be a string or null")
        }
    }

    /// A list of strings, or nil for `null`.
    public static func list(_ value: JSONValue, _ name: String) throws(AdminError) -> [String]? {
        if value == .null { return nil }
        guard case .array(let items) = value else { throw AdminError(.invalid, "\(name) must be a list of strings or null") }
        var strings: [String] = []
        for item in items {
            guard case .string(let text) = item else { throw AdminError(.invalid, "\(name) must be a list of strings or null") }
            strings.append(text)
        }
        return strings
    }

    /// A list of names (`pools`, `accounts`, `model_list`, `ban_patterns`): each
    /// 1 to 200 bytes, at most `limit` of them, duplicates dropped; `null` or `[]` is none.
    public static func names(_ value: JSONValue, _ key: String, limit: Int = 100) throws(AdminError) -> [String] {
        guard let list = try list(value, key) else { return [] }
        guard list.count <= limit, list.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 200 }) else {
            throw AdminError(.invalid, "\(key) must list at most \(limit) names of 1 to 200 bytes")
        }
        var seen = Set<String>()
        return list.filter { seen.insert($0).inserted }
    }

    /// The settings that bind a key, user or group to accounts.
    public static let bindingFields = ["pools", "accounts", "fallback_to_shared"]

    /// The binding after the `pools`, `accounts` and `fallback_to_shared` of
    /// `json` (absent fields keep theirs; `null` or `[]` empties a list); nil
    /// when it binds to nothing.
    public static func binding(_ json: [String: JSONValue], current: AccountBinding?) throws(AdminError) -> AccountBinding? {
        guard bindingFields.contains(where: { json[$0] != nil }) else { return current }
        var binding = current ?? AccountBinding()
        func names(_ key: String) throws(AdminError) -> [String]? {
            try json[key].map { v throws(AdminError) in try SettingValue.names(v, key) }
        }
        if let pools = try names("pools") { binding.pools = pools }
        if let accounts = try names("accounts") { binding.accounts = accounts }
        if let value = json["fallback_to_shared"] { binding.fallbackToShared = value == .null ? false : try flag(value, "fallback_to_shared") }
        guard !binding.isEmpty else {
            if json["fallback_to_shared"] == .bool(true) {
                throw AdminError(.invalid, "fallback_to_shared needs pools or accounts to fall back from")
            }
            return nil
        }
        return binding
    }

    /// A whole number within bounds, or nil for `null`.
    public static func whole(_ value: JSONValue, _ name: String, minimum: Int64, maximum: Int64 = 999_999_999_999_999) throws(AdminError) -> Int64? {
        let invalid = AdminError(.invalid, "\(name) must be a whole number from \(minimum) to \(maximum), or null")
        switch value {
        case .null:
            return nil
        case .number(let number) where number.rounded() == number && number >= Double(minimum) && number <= Double(maximum):
            return Int64(number)
        case .string(let text):
            guard let number = Int64(text.trimmingCharacters(in: .whitespaces)), (minimum...maximum).contains(number) else { throw invalid }
            return number
        default:
            throw invalid
        }
    }

    /// true or false (also as text: `true`, `yes`, `false`, `no`).
    public static func flag(_ value: JSONValue, _ name: String) throws(AdminError) -> Bool {
        switch value {
        case .bool(let flag): return flag
        case .string(let text) where ["true", "yes"].contains(text.lowercased()): return true
        case .string(let text) where ["false", "no"].contains(text.lowercased()): return false
        default: throw AdminError(.invalid, "\(name) must be true or false")
        }
    }

    /// Dollars, exactly: a JSON number is read from its shortest decimal text.
    public static func dollars(_ value: JSONValue, _ name: String) throws(AdminError) -> Money? {
        let invalid = AdminError(.invalid, "\(name) must be dollars from 0 to \(Money.max.dollarsString), such as 2 or 0.50, or null")
        switch value {
        case .null: return nil
        case .string(let text):
            guard let money = Money(dollars: text.trimmingCharacters(in: .whitespaces)), money >= .zero else { throw invalid }
            return money
        case .number(let number):
            guard let money = Money(dollars: number), money >= .zero else { throw invalid }
            return money
        default: throw invalid
        }
    }

    /// Address ranges (`10.0.0.0/8`, `2001:db8::/32`, a bare address), or nil for `null`.
    public static func ranges(_ value: JSONValue, _ name: String) throws(AdminError) -> [CIDR]? {
        guard let texts = try list(value, name) else { return nil }
        var ranges: [CIDR] = []
        for text in texts {
            guard let range = CIDR(text.trimmingCharacters(in: .whitespaces)) else {
                throw AdminError(
                    .invalid,
                    "\(name) must list address ranges such as 10.0.0.0/8 or 2001:db8::/32 (got \(jsonStringLiteral(String(text.prefix(64)))))")
            }
            ranges.append(range)
        }
        return ranges
    }

    /// A duration: seconds as a number, or text such as `500ms`, `30s`, `5m`, `1h`.
    public static func duration(_ value: JSONValue, _ name: String) throws(AdminError) -> Duration {
        let parsed: Duration?
        switch value {
        case .string(let text): parsed = DurationSyntax.parse(text)
        case .number(let seconds) where seconds.rounded() == seconds && abs(seconds) < 1e15: parsed = DurationSyntax.parse(String(Int64(seconds)))
        case .number(let seconds): parsed = DurationSyntax.parse(String(seconds))
        default: parsed = nil
        }
        guard let parsed else { throw AdminError(.invalid, "\(name) must be a duration such as 30, 500ms, 10s, 5m or 1h") }
        return parsed
    }
}

extension SettingValue {
    /// A price multiplier, read like dollars (an exact decimal), in millionths.
    public static func multiplier(_ value: JSONValue, _ name: String) throws(AdminError) -> Int64 {
        let invalid = AdminError(.invalid, "\(name) must be a number from 0.000001 to 1000 with at most six decimals, such as 0.8 or 1.5")
        guard let amount = try? dollars(value, name), amount.picos % 1_000_000 == 0, case let ppm = amount.picos / 1_000_000,
            (1...GroupEntry.maxMultiplierPPM).contains(ppm)
        else { throw invalid }
        return ppm
    }

    /// Money caps per model glob (`{"claude-opus-*": {daily_usd: 10}}`), or nil for `null`.
    public static func modelBudgets(_ value: JSONValue, _ name: String) throws(AdminError) -> [ModelBudget]? {
        if value == .null { return nil }
        let shape = "\(name) must map model globs to caps, such as {\"claude-opus-*\": {\"daily_usd\": 10}}, or null"
        guard case .object(let globs) = value else { throw AdminError(.invalid, shape) }
        var budgets: [ModelBudget] = []
        for (glob, caps) in globs.sorted(by: { $0.key < $1.key }) {
            guard !glob.isEmpty, glob.utf8.count <= 200 else { throw AdminError(.invalid, "\(name): a model glob must be 1 to 200 characters") }
            guard case .object(let fields) = caps else { throw AdminError(.invalid, shape) }
            if let unknown = fields.keys.sorted().first(where: { !["daily_usd", "weekly_usd", "monthly_usd"].contains($0) }) {
                throw AdminError(.invalid, "\(name).\(glob): unknown field \(unknown); known: daily_usd, weekly_usd, monthly_usd")
            }
            let budget = ModelBudget(
                pattern: glob, daily: try fields["daily_usd"].flatMap { v throws(AdminError) in try dollars(v, "\(name).\(glob).daily_usd") },
                weekly: try fields["weekly_usd"].flatMap { v throws(AdminError) in try dollars(v, "\(name).\(glob).weekly_usd") },
                monthly: try fields["monthly_usd"].flatMap { v throws(AdminError) in try dollars(v, "\(name).\(glob).monthly_usd") })
            guard budget.daily != nil || budget.weekly != nil || budget.monthly != nil else {
                throw AdminError(.invalid, "\(name).\(glob) sets no cap; give daily_usd, weekly_usd or monthly_usd")
            }
            budgets.append(budget)
        }
        return budgets
    }

    /// A budget period in whole hours (`30d`, `12h`), or nil for `null`.
    public static func budgetHours(_ value: JSONValue, _ name: String) throws(AdminError) -> Int? {
        if value == .null { return nil }
        let invalid = AdminError(.invalid, "\(name) must be whole hours from 1h to 3650d, such as 12h, 7d or 30d, or null")
        guard let duration = try? SettingValue.duration(value, name), duration.components.attoseconds == 0,
            duration.components.seconds % 3600 == 0, case let hours = duration.components.seconds / 3600,
            (1...Int64(KeyPolicy.maxBudgetHours)).contains(hours)
        else { throw invalid }
        return Int(hours)
    }
}
