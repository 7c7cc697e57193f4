/// An exact amount of US dollars, counted in picodollars (10⁻¹² USD).
///
/// Prices in LiteLLM's table go down to fractions of a nano-dollar per token
/// (`1.875e-08`), so picodollars keep every listed price exact while an `Int64`
/// still holds about 9.2 million dollars. Sums never pass through `Double`.
public struct Money: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    /// Picodollars in one US dollar.
    public static let picosPerDollar: Int64 = 1_000_000_000_000

    /// The amount in picodollars.
    public var picos: Int64

    /// Creates an amount from picodollars.
    public init(picos: Int64) { self.picos = picos }

    /// No money.
    public static let zero = Money(picos: 0)

    /// Parses a decimal literal such as `"3e-06"`, `"0.00025"` or `"12"` exactly.
    ///
    /// Returns nil for text that is not a plain decimal number. Digits below one
    /// picodollar are rounded half to even, which no listed price needs.
    public init?(dollars text: String) {
        guard let value = DecimalLiteral(text)?.scaled(byPowerOfTen: 12) else { return nil }
        self.picos = value
    }

    /// Converts a `Double` price by way of its shortest round-trip decimal form.
    ///
    /// `Double.description` yields the same digits as the JSON literal the value was
    /// read from, so the result is exact for every price written with fewer than 16
    /// significant digits.
    public init?(dollars value: Double) {
        guard value.isFinite else { return nil }
        self.init(dollars: "\(value)")
    }

    /// The sum, saturating instead of trapping on overflow.
    public static func + (lhs: Money, rhs: Money) -> Money {
        let (sum, overflow) = lhs.picos.addingReportingOverflow(rhs.picos)
        if overflow { return Money(picos: lhs.picos > 0 ? .max : .min) }
        return Money(picos: sum)
    }

    /// Adds in place, saturating.
    public static func += (lhs: inout Money, rhs: Money) { lhs = lhs + rhs }

    /// The difference, saturating instead of trapping on overflow.
    public static func - (lhs: Money, rhs: Money) -> Money {
        let (difference, overflow) = lhs.picos.subtractingReportingOverflow(rhs.picos)
        if overflow { return Money(picos: rhs.picos > 0 ? .min : .max) }
        return Money(picos: difference)
    }

    /// Subtracts in place, saturating.
    public static func -= (lhs: inout Money, rhs: Money) { lhs = lhs - rhs }

    /// The largest amount a `Money` holds (about 9.2 million dollars).
    public static let max = Money(picos: .max)

    /// A per-unit price times a count, saturating instead of trapping.
    public func times(_ count: Int64) -> Money {
        let (product, overflow) = picos.multipliedReportingOverflow(by: count)
        if overflow { return Money(picos: (picos < 0) != (count < 0) ? .min : .max) }
        return Money(picos: product)
    }

    public static func < (lhs: Money, rhs: Money) -> Bool { lhs.picos < rhs.picos }

    /// Dollars with every significant digit, e.g. `0.000123`, for display and JSON.
    public var dollarsString: String {
        let negative = picos < 0
        let magnitude = picos.magnitude
        let whole = magnitude / UInt64(Money.picosPerDollar)
        var fraction = String(magnitude % UInt64(Money.picosPerDollar))
        fraction = String(repeating: "0", count: 12 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        let body = fraction.isEmpty ? "\(whole)" : "\(whole).\(fraction)"
        return negative ? "-" + body : body
    }

    public var description: String { "$" + dollarsString }

    /// Stored and sent as its picodollar count, a plain integer.
    public init(from decoder: any Decoder) throws {
        picos = try decoder.singleValueContainer().decode(Int64.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(picos)
    }
}

/// A decimal number split into an integer of significant digits and a power of ten.
struct DecimalLiteral {
    var digits: [UInt8] = []
    var exponent = 0
    var negative = false

    init?(_ text: String) {
        var bytes = Array(text.utf8)[...]
        if bytes.first == UInt8(ascii: "-") {
            negative = true
            bytes = bytes.dropFirst()
        } else if bytes.first == UInt8(ascii: "+") {
            bytes = bytes.dropFirst()
        }
        var sawDigit = false
        var sawPoint = false
        while let byte = bytes.first {
            if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                digits.append(byte - UInt8(ascii: "0"))
                if sawPoint { exponent -= 1 }
                sawDigit = true
            } else if byte == UInt8(ascii: "."), !sawPoint {
                sawPoint = true
            } else {
                break
            }
            bytes = bytes.dropFirst()
        }
        guard sawDigit else { return nil }
        if let marker = bytes.first, marker == UInt8(ascii: "e") || marker == UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            guard let power = Int(String(decoding: bytes, as: UTF8.self)), power.magnitude < 400 else { return nil }
            exponent += power
            bytes = []
        }
        guard bytes.isEmpty else { return nil }
    }

    /// The value times 10^power as an integer, rounded half to even; nil on overflow.
    func scaled(byPowerOfTen power: Int) -> Int64? {
        let shift = exponent + power
        var kept = digits
        var dropped: [UInt8] = []
        if shift >= 0 {
            kept += Array(repeating: 0, count: shift)
        } else {
            let cut = max(0, kept.count + shift)
            dropped = Array(kept[cut...])
            if -shift > digits.count { dropped = Array(repeating: 0, count: -shift - digits.count) + dropped }
            kept = Array(kept[..<cut])
        }
        var value: Int64 = 0
        for digit in kept {
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int64(digit))
            if o1 || o2 { return nil }
            value = sum
        }
        if let first = dropped.first {
            let rest = dropped.dropFirst().contains { $0 != 0 }
            if first > 5 || (first == 5 && (rest || value % 2 == 1)) {
                let (rounded, overflow) = value.addingReportingOverflow(1)
                if overflow { return nil }
                value = rounded
            }
        }
        return negative ? -value : value
    }
}
