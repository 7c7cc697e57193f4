/// An upstream answer saying the account itself is suspended, disabled or
/// flagged, not that one request was wrong: a session that drew it must not be
/// moved onto healthy accounts (the provider would see the same traffic there).
public enum BanSignal {
    /// The known signals: a phrase providers send, and the name recorded for it.
    static let known: [(phrase: String, name: String)] = [
        ("organization has been disabled", "organization_disabled"),  // Anthropic, 400/403
        ("account_deactivated", "account_deactivated"),  // OpenAI's error code
        ("account has been deactivated", "account_deactivated"),
        ("consumer_suspended", "consumer_suspended"),  // Gemini's (Google Cloud) error reason
        ("has been suspended", "suspended"),
    ]

    /// The signal in an upstream refusal, or nil: a known phrase in a 400, 401,
    /// 402 or 403; a usage-policy violation in a 403; or one of the account's
    /// own `ban_patterns` (case-insensitive substrings) in any 4xx. The name
    /// returned is safe to record (never the upstream's text).
    public static func detect(status: Int, body: String, patterns: [String] = []) -> String? {
        guard (400..<500).contains(status) else { return nil }
        let text = body.lowercased()
        if let pattern = patterns.first(where: { !$0.isEmpty && text.contains($0.lowercased()) }) { return "ban_pattern:\(pattern)" }
        guard [400, 401, 402, 403].contains(status) else { return nil }
        if let signal = known.first(where: { text.contains($0.phrase) }) { return signal.name }
        if status == 403, text.contains("usage polic"), text.contains("violat") { return "policy_violation" }
        return nil
    }
}
