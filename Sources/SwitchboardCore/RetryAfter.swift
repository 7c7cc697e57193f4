import Foundation

/// Reads how long an upstream asks an account to wait, from whichever headers it
/// sent: `retry-after-ms`, `retry-after` (seconds or an HTTP date), Anthropic's
/// `anthropic-ratelimit-*-reset` (RFC 3339 times) and OpenAI's
/// `x-ratelimit-reset-*` (durations such as `6m0s`, `20ms`).
///
/// The headers are the upstream's to write, so every number saturates: a wait
/// is never negative and never longer than `longest` (`retry-after: 1e300`
/// reads as that), and nothing converts a huge or odd value in a way that traps.
public enum RetryAfter {
    /// The longest wait any hint is taken to mean; the pool caps cooldowns lower still.
    public static let longest: Duration = .seconds(7 * 86_400)

    /// The wait, or nil when the upstream named none.
    public static func hint(from headers: [(name: String, value: String)], now: Date = Date()) -> Duration? {
        func value(_ name: String) -> String? {
            headers.first { $0.name == name }.map { String($0.value.prefix(200)).trimmingCharacters(in: .whitespaces) }
        }
        if let ms = value("retry-after-ms").flatMap(Double.init), !ms.isNaN, ms >= 0 {
            return duration(seconds: ms / 1000)
        }
        if let text = value("retry-after") {
            if let seconds = Double(text), !seconds.isNaN, seconds >= 0 { return duration(seconds: seconds) }
            if let date = WireDate.httpDate(text) { return untilDate(date, now: now) }
        }
        // Reset headers per limit; the limits at zero are the ones that bit.
        var resets: [(wait: Duration, exhausted: Bool)] = []
        for limit in ["requests", "tokens", "input-tokens", "output-tokens"] {
            if let text = value("anthropic-ratelimit-\(limit)-reset"), let date = WireDate.rfc3339(text) {
                resets.append((untilDate(date, now: now), value("anthropic-ratelimit-\(limit)-remaining") == "0"))
            }
        }
        for limit in ["requests", "tokens"] {
            if let text = value("x-ratelimit-reset-\(limit)"), let wait = goDuration(text) {
                resets.append((wait, value("x-ratelimit-remaining-\(limit)") == "0"))
            }
        }
        let exhausted = resets.filter(\.exhausted).map(\.wait)
        return exhausted.max() ?? resets.map(\.wait).min()
    }

    /// A wait of so many seconds (any finite or infinite value), rounded up
    /// to the millisecond and held within 0…`longest`.
    public static func duration(seconds: Double) -> Duration {
        guard !seconds.isNaN, seconds > 0 else { return .zero }
        let cap = Double(longest.components.seconds)
        guard seconds < cap else { return longest }
        return .milliseconds(Int64((seconds * 1000).rounded(.up)))
    }

    /// Whole seconds for a client's `Retry-After`, rounded up, at least 1.
    public static func seconds(_ wait: Duration) -> Int {
        let (whole, attos) = min(max(wait, .zero), longest).components
        return max(1, Int(whole) + (attos > 0 ? 1 : 0))
    }

    /// Whole seconds from `now` until `date`, for a client's `Retry-After` (at least 1).
    public static func seconds(until date: Date, now: Date) -> Int { seconds(untilDate(date, now: now)) }

    private static func untilDate(_ date: Date, now: Date) -> Duration {
        duration(seconds: date.timeIntervalSince(now))
    }

    /// Go's duration format as OpenAI sends it: `1h2m3.5s`, `6m0s`, `20ms`, `0.5s`
    /// (`us` and `ns` too); any size saturates.
    public static func goDuration(_ text: String) -> Duration? {
        var total = 0.0
        var number = ""
        var index = text.startIndex
        var sawUnit = false
        while index < text.endIndex {
            let character = text[index]
            if character.isNumber || character == "." {
                number.append(character)
                index = text.index(after: index)
                continue
            }
            var unit = String(character)
            index = text.index(after: index)
            if ["m", "u", "µ", "n"].contains(unit), index < text.endIndex, text[index] == "s" {
                unit += "s"
                index = text.index(after: index)
            }
            guard let value = Double(number) else { return nil }
            switch unit {
            case "h": total += value * 3600
            case "m": total += value * 60
            case "s": total += value
            case "ms": total += value / 1e3
            case "us", "µs": total += value / 1e6
            case "ns": total += value / 1e9
            default: return nil
            }
            number = ""
            sawUnit = true
        }
        guard sawUnit, number.isEmpty, !total.isNaN else { return nil }
        return duration(seconds: total)
    }
}
