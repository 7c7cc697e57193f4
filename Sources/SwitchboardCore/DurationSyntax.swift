import Foundation

/// Durations as people write them in settings and admin requests: `30`
/// (seconds), `500ms`, `10s`, `5m`, `1h`, `7d`; at most a year.
public enum DurationSyntax {
    /// The duration, or nil when the text is not one.
    public static func parse(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        var seconds: Double?
        for (suffix, factor) in units where trimmed.hasSuffix(suffix) {
            if let number = Double(trimmed.dropLast(suffix.count)) { seconds = number * factor }
            break
        }
        if seconds == nil { seconds = Double(trimmed) }
        guard let seconds, seconds >= 0, seconds <= 366 * 86400 else { return nil }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    /// The shortest text that parses back to the same duration: `30s`, `1500ms`.
    public static func format(_ duration: Duration) -> String {
        let (seconds, attos) = duration.components
        let ms = seconds * 1000 + attos / 1_000_000_000_000_000
        return ms % 1000 == 0 ? "\(ms / 1000)s" : "\(ms)ms"
    }
}

extension Duration {
    /// Whole milliseconds, rounded down; saturates instead of overflowing.
    public var wholeMilliseconds: Int64 {
        let (seconds, attos) = components
        return seconds.saturatingMultiply(1000).saturatingAdd(attos / 1_000_000_000_000_000)
    }
}
