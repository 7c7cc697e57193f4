import SwitchboardCore

/// Usage when the upstream's own report never came (a stream cut, a client
/// gone): input from the request, output from the text delivered, one token
/// per four bytes, rounded up; any part the upstream did report counts when it
/// is larger.
enum UsageEstimate {
    /// Tokens for so many bytes of text: one per four, rounded up.
    static func tokens(bytes: Int64) -> Int64 { bytes <= 0 ? 0 : (bytes / 4).saturatingAdd(bytes % 4 == 0 ? 0 : 1) }

    /// The reported usage with the estimate filling in what it lacks.
    static func merge(reported: TokenUsage?, promptBytes: Int, outputTextBytes: Int64) -> TokenUsage {
        var usage = reported ?? .zero
        if usage.totalInput == 0 { usage.inputUncached = tokens(bytes: Int64(promptBytes)) }
        usage.output = max(usage.output, tokens(bytes: outputTextBytes))
        return usage
    }
}
