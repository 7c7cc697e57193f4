import Foundation

/// Reads the two time formats that arrive from outside: RFC 3339 timestamps
/// (`2026-12-03T10:00:00Z`, `2026-12-03T10:00:00.250+01:00`) and HTTP dates
/// (IMF-fixdate, `Wed, 21 Oct 2015 07:28:00 GMT`).
///
/// Hand-written on purpose: Foundation's `DateFormatter` traps on some
/// non-ASCII input (the fuzzer found `…07:28:00ָMT` in a `Retry-After`
/// header), and these bytes are an upstream's or a client's to choose. Only
/// ASCII of the exact shape is read; anything else is nil, never a crash.
public enum WireDate {
    /// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; `t`, `z` and a space for
    /// `T` are accepted as RFC 3339 allows.
    public static func rfc3339(_ text: String) -> Date? {
        var scanner = Scanner(text)
        guard let year = scanner.digits(4), scanner.take("-"),
            let month = scanner.digits(2), scanner.take("-"),
            let day = scanner.digits(2), scanner.take(oneOf: "Tt "),
            let hour = scanner.digits(2), scanner.take(":"),
            let minute = scanner.digits(2), scanner.take(":"),
            let second = scanner.digits(2)
        else { return nil }
        var fraction = 0.0
        if scanner.take(".") {
            guard let digits = scanner.fraction() else { return nil }
            fraction = digits
        }
        var offset = 0
        if scanner.take(oneOf: "Zz") {
            offset = 0
        } else if let sign = scanner.sign(), let hours = scanner.digits(2), scanner.take(":"), let minutes = scanner.digits(2),
            hours < 24, minutes < 60
        {
            offset = sign * (hours * 3600 + minutes * 60)
        } else {
            return nil
        }
        guard scanner.atEnd else { return nil }
        return date(
            year: year, month: month, day: day, hour: hour, minute: minute, second: second,
            fraction: fraction, offsetSeconds: offset)
    }

    /// IMF-fixdate, the one HTTP date form senders must produce.
    public static func httpDate(_ text: String) -> Date? {
        var scanner = Scanner(text)
        guard scanner.word(in: weekdays) != nil, scanner.take(","), scanner.take(" "),
            let day = scanner.digits(2), scanner.take(" "),
            let month = scanner.word(in: months), scanner.take(" "),
            let year = scanner.digits(4), scanner.take(" "),
            let hour = scanner.digits(2), scanner.take(":"),
            let minute = scanner.digits(2), scanner.take(":"),
            let second = scanner.digits(2), scanner.take(" "),
            scanner.take("G"), scanner.take("M"), scanner.take("T"), scanner.atEnd
        else { return nil }
        return date(
            year: year, month: month + 1, day: day, hour: hour, minute: minute, second: second,
            fraction: 0, offsetSeconds: 0)
    }

    private static let weekdays = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    private static func date(
        year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int,
        fraction: Double, offsetSeconds: Int
    ) -> Date? {
        // A leap second (60) is read as the second before the next minute.
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
            hour < 24, minute < 60, second <= 60
        else { return nil }
        let days = daysFromEpoch(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + min(second, 59) - offsetSeconds
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 in the proleptic Gregorian calendar (Howard Hinnant's
    /// days-from-civil); years are four digits, so nothing here can overflow.
    private static func daysFromEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// Walks the UTF-8 bytes; any byte that is not the expected ASCII fails the read.
    private struct Scanner {
        let bytes: [UInt8]
        var index = 0

        init(_ text: String) { bytes = Array(text.utf8.prefix(64)) + (text.utf8.count > 64 ? [0] : []) }

        var atEnd: Bool { index == bytes.count }

        mutating func take(_ character: Character) -> Bool {
            guard index < bytes.count, let ascii = character.asciiValue, bytes[index] == ascii else { return false }
            index += 1
            return true
        }

        mutating func take(oneOf characters: String) -> Bool {
            characters.contains { take($0) }
        }

        mutating func sign() -> Int? {
            if take("+") { return 1 }
            if take("-") { return -1 }
            return nil
        }

        mutating func digits(_ count: Int) -> Int? {
            guard index + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index..<index + count] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            index += count
            return value
        }

        /// One or more digits after a decimal point, read to nanoseconds.
        mutating func fraction() -> Double? {
            var value = 0.0
            var scale = 1.0
            let start = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                if scale > 1e-9 {
                    scale /= 10
                    value += Double(bytes[index] - UInt8(ascii: "0")) * scale
                }
                index += 1
            }
            return index > start ? value : nil
        }

        /// Which of `words` (three ASCII letters each) comes next, by its position.
        mutating func word(in words: [String]) -> Int? {
            guard index + 3 <= bytes.count else { return nil }
            let next = bytes[index..<index + 3]
            guard let position = words.firstIndex(where: { Array($0.utf8)[...] == next }) else { return nil }
            index += 3
            return position
        }
    }

    /// The UTC day holding `date`, as `2026-12-05`: how the ledger, reports and exports name days.
    public static func utcDay(_ date: Date) -> String {
        let (year, month, day) = civil(days: Int64((date.timeIntervalSince1970 / 86_400).rounded(.down)))
        return String(format: "%04lld-%02lld-%02lld", year, month, day)
    }

    /// A time in whole seconds since 1970 as IMF-fixdate (`Sun, 06 Nov 1994
    /// 08:49:37 GMT`): the form of the `Date` header the gateway sends.
    public static func httpDate(seconds: Int64) -> String {
        let (days, second) = (seconds.floorDivided(by: 86_400), seconds.floorRemainder(by: 86_400))
        let (year, month, day) = civil(days: days)
        // 1970-01-01 was a Thursday (index 3 from Monday).
        let weekday = weekdays[Int((days + 3).floorRemainder(by: 7))]
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(weekday), \(two(day)) \(months[Int(month - 1)]) \(year) \(two(second / 3600)):\(two(second / 60 % 60)):\(two(second % 60)) GMT"
    }

    /// Civil date from days since 1970-01-01 (proleptic Gregorian; Howard
    /// Hinnant's civil-from-days), without a formatter per call.
    private static func civil(days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

extension Int64 {
    /// The quotient rounded toward negative infinity.
    fileprivate func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return self % divisor < 0 ? quotient - 1 : quotient
    }

    /// The remainder of `floorDivided(by:)`, from 0 up to `divisor`.
    fileprivate func floorRemainder(by divisor: Int64) -> Int64 {
        let remainder = self % divisor
        return remainder < 0 ? remainder + divisor : remainder
    }
}
