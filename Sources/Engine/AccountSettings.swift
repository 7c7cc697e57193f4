import Foundation
import Policy
import SwitchboardCore

/// An admin's change to an account: every field optional, so the same type
/// creates (where the required ones must be present) and updates (where only
/// the given ones change). `null` on a cap removes the cap.
public struct AccountSettings: Sendable, Equatable {
    public var name: String
    public var provider: Provider?
    public var baseURL: String?
    public var apiKey: String?
    public var models: [String]?
    public var modelMap: [String: String]?
    public var priority: Int?
    public var enabled: Bool?
    public var notes: String?
    public var maxRPM: Int??
    public var maxTPM: Int??
    public var maxConcurrency: Int??
    public var maxWaiting: Int?
    public var waitTimeout: Duration?
    public var interceptWarmup: Bool?
    /// Responses instructions for requests without any; `.some(nil)` removes them.
    public var defaultInstructions: String??

    /// Settings naming only the account.
    public init(name: String) { self.name = name }

    /// The fields an admin request may carry; anything else is refused.
    public static let fields = [
        "name", "provider", "base_url", "api_key", "models", "model_map", "priority", "enabled", "notes", "max_rpm",
        "max_tpm", "max_concurrency", "max_waiting", "wait_timeout", "intercept_warmup",
        "default_instructions",
    ]

    /// Reads settings from a parsed JSON object, refusing unknown fields and wrong types.
    public init(json: [String: JSONValue], name fallbackName: String? = nil) throws(AdminError) {
        if let unknown = json.keys.sorted().first(where: { !Self.fields.contains($0) }) {
            throw AdminError(.invalid, "unknown field \(unknown); allowed: \(Self.fields.joined(separator: ", "))")
        }
        func text(_ key: String) throws(AdminError) -> String? {
            switch json[key] {
            case nil, .null?: return nil
            case .string(let value)?: return value
            default: throw AdminError(.invalid, "\(key) must be a string")
            }
        }
        func whole(_ key: String, minimum: Int) throws(AdminError) -> Int?? {
            switch json[key] {
            case nil: return nil
            case .null?: return .some(nil)
            case .number(let value)? where value.rounded() == value && value >= Double(minimum) && abs(value) < 1e15:
                return .some(Int(value))
            default: throw AdminError(.invalid, "\(key) must be a whole number ≥ \(minimum), or null")
            }
        }
        guard let name = try text("name") ?? fallbackName, !name.isEmpty else { throw AdminError(.invalid, "name is required") }
        if fallbackName == nil, let problem = RecordName.problem(name) { throw AdminError(.invalid, problem) }
        if let fallbackName, name != fallbackName { throw AdminError(.invalid, "an account cannot be renamed") }
        self.name = name
        if let raw = try text("provider") {
            guard let provider = Provider(rawValue: raw) else { throw AdminError(.invalid, "provider must be openai, anthropic or gemini") }
            self.provider = provider
        }
        baseURL = try text("base_url")
        apiKey = try text("api_key")
        notes = try text("notes")
        if let value = json["models"] {
            guard case .array(let items) = value, !items.isEmpty else { throw AdminError(.invalid, "models must be a non-empty list of strings") }
            models = try items.map { item throws(AdminError) in
                guard case .string(let model) = item, !model.isEmpty else { throw AdminError(.invalid, "models must be a non-empty list of strings") }
                return model
            }
        }
        if let value = json["model_map"] {
            guard case .object(let map) = value else { throw AdminError(.invalid, "model_map must map strings to strings") }
            var strings: [String: String] = [:]
            for (source, item) in map {
                guard case .string(let target) = item else { throw AdminError(.invalid, "model_map must map strings to strings") }
                strings[source] = target
            }
            modelMap = strings
        }
        switch json["default_instructions"] {
        case nil: break
        case .null?: defaultInstructions = .some(nil)
        case .string(let text)?: defaultInstructions = text.isEmpty ? .some(nil) : text
        default: throw AdminError(.invalid, "default_instructions must be a string or null")
        }
        switch json["intercept_warmup"] {
        case nil: break
        case .bool(let flag)?: interceptWarmup = flag
        default: throw AdminError(.invalid, "intercept_warmup must be true or false")
        }
        switch json["enabled"] {
        case nil: break
        case .bool(let flag)?: enabled = flag
        default: throw AdminError(.invalid, "enabled must be true or false")
        }
        priority = try whole("priority", minimum: -1_000_000) ?? nil
        maxRPM = try whole("max_rpm", minimum: 1)
        maxTPM = try whole("max_tpm", minimum: 1)
        maxConcurrency = try whole("max_concurrency", minimum: 1)
        maxWaiting = try whole("max_waiting", minimum: 0) ?? nil
        switch json["wait_timeout"] {
        case nil: break
        case .string(let text)?: waitTimeout = DurationSyntax.parse(text)
        case .number(let seconds)?: waitTimeout = DurationSyntax.parse("\(seconds)")
        default: break
        }
        if json["wait_timeout"] != nil, waitTimeout == nil {
            throw AdminError(.invalid, "wait_timeout must be a duration such as 30s")
        }
    }

    /// Applies these settings to limits.
    public func apply(to limits: AccountLimits) -> AccountLimits {
        var limits = limits
        if let maxRPM { limits.maxRPM = maxRPM }
        if let maxTPM { limits.maxTPM = maxTPM }
        if let maxConcurrency { limits.maxConcurrency = maxConcurrency }
        if let maxWaiting { limits.maxWaiting = maxWaiting }
        if let waitTimeout { limits.waitTimeout = waitTimeout }
        return limits
    }
}

/// An admin operation's failure, with a fixed code.
public struct AdminError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case invalid = "invalid_request"
        case notFound = "not_found"
        case conflict = "conflict"
        case unauthorized = "unauthorized"
        case throttled = "too_many_attempts"
        case unavailable = "unavailable"

        /// The HTTP status of the code.
        public var status: Int {
            switch self {
            case .invalid: return 400
            case .unauthorized: return 401
            case .notFound: return 404
            case .conflict: return 409
            case .throttled: return 429
            case .unavailable: return 503
            }
        }
    }

    public var code: Code
    public var description: String

    public init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }
}
