import Foundation

/// An upstream answer saying the account itself is suspended, disabled or
/// flagged, not that one request was wrong: a session that drew it must not be
/// moved onto healthy accounts (the provider would see the same traffic there).
///
/// Read from the error's own fields (OpenAI's `code`, Anthropic's and
/// OpenAI's `message`, Gemini's `details[].reason`), never from the body as a
/// whole; and a phrase that the client's own request contains does not count,
/// since upstreams quote what a client sent in their 400s (`Unknown name
/// "account_deactivated"`): otherwise any key could knock accounts out.
public enum BanSignal {
    /// The error fields a signal is read from.
    struct Fields {
        var code = ""
        var message = ""
        var reasons: [String] = []
    }

    /// The signal in an upstream refusal, or nil: OpenAI's `account_deactivated`
    /// code, Anthropic's "organization has been disabled", Gemini's
    /// `CONSUMER_SUSPENDED`, a 403 whose message names a usage-policy violation
    /// (each in a 400, 401, 402 or 403); or one of the account's own
    /// `ban_patterns` (case-insensitive) in the message or code of any 4xx.
    /// `request` is the client's body. The name returned is safe to record
    /// (never the upstream's text).
    public static func detect(
        status: Int, body: @autoclosure () -> String, patterns: [String] = [], request: @autoclosure () -> String = ""
    ) -> String? {
        guard (400..<500).contains(status), let fields = fields(body()) else { return nil }
        let said = (fields.code + "\n" + fields.message).lowercased()
        // The client's body, read only once some phrase is there to look for.
        var read: String?
        var asked: String {
            if read == nil { read = request().lowercased() }
            return read ?? ""
        }
        // A phrase is the upstream's own only if the client did not write it.
        func says(_ phrase: String) -> Bool {
            let phrase = phrase.lowercased()
            return !phrase.isEmpty && said.contains(phrase) && !asked.contains(phrase)
        }
        if let pattern = patterns.first(where: says) { return "ban_pattern:\(pattern)" }
        guard [400, 401, 402, 403].contains(status) else { return nil }
        if fields.code == "account_deactivated", !asked.contains("account_deactivated") { return "account_deactivated" }
        if fields.reasons.contains("CONSUMER_SUSPENDED"), !asked.contains("consumer_suspended") { return "consumer_suspended" }
        if says("organization has been disabled") { return "organization_disabled" }
        if says("account has been deactivated") { return "account_deactivated" }
        if status == 403, says("usage polic"), says("violat") { return "policy_violation" }
        return nil
    }

    /// The error object's fields, in any of the three providers' shapes; nil
    /// when the body is not a JSON error.
    static func fields(_ body: String) -> Fields? {
        guard let root = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
            let error = root["error"] as? [String: Any]
        else { return nil }
        var fields = Fields()
        fields.code = error["code"] as? String ?? ""
        fields.message = error["message"] as? String ?? ""
        fields.reasons = (error["details"] as? [[String: Any]] ?? []).compactMap { $0["reason"] as? String }
        return fields
    }
}
