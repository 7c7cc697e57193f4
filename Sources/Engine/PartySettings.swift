import Policy
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// An admin's change to a user's settings, from JSON with the config file's
/// names: the one reader the admin API, console, CLI and config file share.
/// Whether a named group exists is the caller's to check (it needs the store).
public enum UserSettings {
    /// The settings a user has.
    public static let fields =
        [
            "name", "group", "balance_usd", "description", "ip_allow", "ip_deny", "concurrency", "max_waiting", "model_budgets",
        ] + SettingValue.bindingFields

    /// Applies the fields of `json` to `user`.
    public static func apply(_ json: [String: JSONValue], to user: UserEntry) throws(AdminError) -> UserEntry {
        if let unknown = json.keys.sorted().first(where: { !fields.contains($0) }) {
            throw AdminError(.invalid, "unknown setting \(unknown); known: \(fields.joined(separator: ", "))")
        }
        if case .string(let other)? = json["name"], other != user.name { throw AdminError(.invalid, "a user cannot be renamed") }
        var user = user
        for (name, value) in json {
            switch name {
            case "group": user.group = try SettingValue.text(value, name)
            case "description": user.description = try SettingValue.text(value, name)
            case "balance_usd": user.balance = try SettingValue.dollars(value, name)
            case "ip_allow": user.addresses.allow = try SettingValue.ranges(value, name)
            case "ip_deny": user.addresses.deny = try SettingValue.ranges(value, name)
            case "concurrency": user.limits.concurrency = try SettingValue.whole(value, name, minimum: 1).map(Int.init)
            case "max_waiting": user.limits.maxWaiting = try SettingValue.whole(value, name, minimum: 0).map(Int.init)
            case "model_budgets": user.limits.modelBudgets = try SettingValue.modelBudgets(value, name)
            default: break
            }
        }
        user.binding = try SettingValue.binding(json, current: user.binding)
        return user
    }
}

/// An admin's change to a group's settings, from JSON with the config file's names.
public enum GroupSettings {
    /// The settings a group has.
    public static let fields = ["name", "multiplier", "subscription", "price_multiplier"] + SettingValue.bindingFields

    /// Applies the fields of `json` to `group`.
    public static func apply(_ json: [String: JSONValue], to group: GroupEntry) throws(AdminError) -> GroupEntry {
        if let unknown = json.keys.sorted().first(where: { !fields.contains($0) }) {
            throw AdminError(.invalid, "unknown setting \(unknown); known: \(fields.joined(separator: ", "))")
        }
        if case .string(let other)? = json["name"], other != group.name { throw AdminError(.invalid, "a group cannot be renamed") }
        var group = group
        group.binding = try SettingValue.binding(json, current: group.binding)
        if let value = json["multiplier"] { group.multiplierPPM = try SettingValue.multiplier(value, "multiplier") }
        switch json["price_multiplier"] {
        case nil: break
        case .null?: group.modelMultipliers = [:]
        case .object(let globs)?:
            var multipliers: [String: Int64] = [:]
            for (glob, value) in globs {
                guard !glob.isEmpty, glob.utf8.count <= 200 else {
                    throw AdminError(.invalid, "price_multiplier: a model glob must be 1 to 200 characters")
                }
                multipliers[glob] = try SettingValue.multiplier(value, "price_multiplier.\(glob)")
            }
            group.modelMultipliers = multipliers
        default: throw AdminError(.invalid, "price_multiplier must map model globs to multipliers, such as {\"claude-opus-*\": 1.5}, or null")
        }
        switch json["subscription"] {
        case nil: break
        case .null?: (group.daily, group.weekly, group.monthly) = (nil, nil, nil)
        case .object(let sub)?:
            if let unknown = sub.keys.sorted().first(where: { !["daily_usd", "weekly_usd", "monthly_usd"].contains($0) }) {
                throw AdminError(.invalid, "subscription: unknown field \(unknown)")
            }
            if let v = sub["daily_usd"] { group.daily = try SettingValue.dollars(v, "subscription.daily_usd") }
            if let v = sub["weekly_usd"] { group.weekly = try SettingValue.dollars(v, "subscription.weekly_usd") }
            if let v = sub["monthly_usd"] { group.monthly = try SettingValue.dollars(v, "subscription.monthly_usd") }
        default: throw AdminError(.invalid, "subscription must be an object or null")
        }
        return group
    }
}
