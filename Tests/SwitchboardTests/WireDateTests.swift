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
}
