import Testing

@testable import SwitchboardCore

@Suite struct MoneyTests {
    @Test(arguments: [
        ("3e-06", Int64(3_000_000)), ("1.5e-07", 150_000), ("7.5e-08", 75_000), ("1.875e-08", 18_750),
        ("0.00025", 250_000_000), ("12", 12_000_000_000_000), ("2", 2_000_000_000_000), ("-0.5", -500_000_000_000),
        ("1E-12", 1), ("0", 0),
    ])
    func parsesDecimalLiteralsExactly(text: String, picos: Int64) {
        #expect(Money(dollars: text)?.picos == picos)
    }

    @Test func roundsBelowOnePicodollarHalfToEven() {
        #expect(Money(dollars: "2.5e-12")?.picos == 2)
        #expect(Money(dollars: "3.5e-12")?.picos == 4)
        #expect(Money(dollars: "2.51e-12")?.picos == 3)
    }

    @Test func rejectsText() {
        #expect(Money(dollars: "abc") == nil)
        #expect(Money(dollars: "") == nil)
        #expect(Money(dollars: "1.2.3") == nil)
        #expect(Money(dollars: Double.nan) == nil)
    }

    @Test func doublesGoThroughTheirShortestDecimalForm() {
        // 3.75e-06 is not exact in binary; the decimal round trip makes it exact.
        #expect(Money(dollars: 3.75e-06)?.picos == 3_750_000)
        #expect(Money(dollars: 1.25e-06)?.picos == 1_250_000)
    }

    @Test func sumsAreExactWhereDoublesAreNot() {
        var total = Money.zero
        for _ in 0..<10 { total += Money(dollars: "0.1")! }
        #expect(total == Money(dollars: "1")!)
        var double = 0.0
        for _ in 0..<10 { double += 0.1 }
        #expect(double != 1.0)  // the reason Money exists
    }

    @Test func saturatesInsteadOfTrapping() {
        #expect(Money(picos: .max) + Money(picos: 1) == Money(picos: .max))
        #expect(Money(picos: Int64.max / 2).times(3) == Money(picos: .max))
        #expect(Money(picos: -5).times(Int64.max) == Money(picos: .min))
    }

    @Test func formatsEveryDigit() {
        #expect(Money(picos: 215_100_000).dollarsString == "0.0002151")
        #expect(Money(picos: 1_000_000_000_000).dollarsString == "1")
        #expect(Money(picos: 1).dollarsString == "0.000000000001")
        #expect(Money(picos: -1_500_000_000_000).description == "$-1.5")
    }
}
