import Foundation
import SwitchboardCore
import Testing

/// The hand-written readers of RFC 3339 and HTTP dates: exact on the forms
/// senders use, nil (never a trap) on anything else.
@Suite struct WireDateTests {
    @Test func readsRFC3339WithOffsetsAndFractions() {
        #expect(WireDate.rfc3339("2027-01-15T08:00:00Z") == Date(timeIntervalSince1970: 1_800_000_000))
        #expect(WireDate.rfc3339("2027-01-15T09:30:00+01:30") == Date(timeIntervalSince1970: 1_800_000_000))
        #expect(WireDate.rfc3339("2027-01-15t08:00:00.250z") == Date(timeIntervalSince1970: 1_800_000_000.25))
        #expect(WireDate.rfc3339("1970-01-01T00:00:00Z") == Date(timeIntervalSince1970: 0))
        #expect(WireDate.rfc3339("2024-02-29T00:00:00Z") == Date(timeIntervalSince1970: 1_709_164_800))
    }

    @Test func readsIMFFixdate() {
        #expect(WireDate.httpDate("Fri, 15 Jan 2027 08:00:00 GMT") == Date(timeIntervalSince1970: 1_800_000_000))
        #expect(WireDate.httpDate("Wed, 21 Oct 2015 07:28:00 GMT") == Date(timeIntervalSince1970: 1_445_412_480))
    }

    @Test func refusesEverythingElseWithoutTrapping() {
        let refused = [
            "", "2027-01-15", "2027-01-15T08:00:00", "2027-02-30T00:00:00Z", "2023-02-29T00:00:00Z",
            "2027-01-15T24:00:00Z", "2027-01-15T08:00:00+25:00", "2027-01-15T08:00:00Z trailing",
            "２０２７-01-15T08:00:00Z", "2027-01-15T08:00:00.Z", String(repeating: "9", count: 10_000),
        ]
        for text in refused { #expect(WireDate.rfc3339(text) == nil, "\(text.prefix(40))") }
        let refusedDates = [
            "Wed, 21 Oct 2015 07:28:00ָMT", "Wed, 21 Oct 2015 07:28:00 UTC", "Wed 21 Oct 2015 07:28:00 GMT",
            "Wed, 32 Oct 2015 07:28:00 GMT", "Wed, 21 Foo 2015 07:28:00 GMT", "Wednesday, 21-Oct-15 07:28:00 GMT",
            "Wed, 21 Oct 2015 07:28:00 GMT ",
        ]
        for text in refusedDates { #expect(WireDate.httpDate(text) == nil, "\(text)") }
    }

    @Test func utcDaysAreCivilDates() {
        for (seconds, day) in [
            (0.0, "1970-01-01"), (1_764_547_200, "2025-12-01"), (951_782_400, "2000-02-29"), (1_764_547_199.5, "2025-11-30"),
            (-1, "1969-12-31"), (4_107_542_400, "2100-03-01"), (253_402_300_799, "9999-12-31"),
        ] {
            #expect(WireDate.utcDay(Date(timeIntervalSince1970: seconds)) == day, "\(seconds)")
        }
    }

    /// The `Date` header's form: RFC 9110's own example, the epoch, a leap day,
    /// a second before 1970, and what is written reads back.
    @Test func writesIMFFixdate() {
        #expect(WireDate.httpDate(seconds: 784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(WireDate.httpDate(seconds: 0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(WireDate.httpDate(seconds: 1_709_164_800) == "Thu, 29 Feb 2024 00:00:00 GMT")
        #expect(WireDate.httpDate(seconds: -1) == "Wed, 31 Dec 1969 23:59:59 GMT")
        for seconds: Int64 in [1_800_000_000, 1_445_412_480, 951_782_400, 4_102_444_799, 1_796_558_399] {
            #expect(WireDate.httpDate(WireDate.httpDate(seconds: seconds)) == Date(timeIntervalSince1970: Double(seconds)), "\(seconds)")
        }
    }
}
