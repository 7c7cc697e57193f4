import Testing

@testable import SwitchboardCore

@Suite struct RequestIDTests {
    /// `req_`, 12 hex digits of the process, 12 of a counter: unique, and in order within a process.
    @Test func idsAreReqAnd24LowercaseHexDigitsCounting() throws {
        let ids = (0..<1_000).map { _ in RequestID.make() }
        #expect(Set(ids).count == ids.count)
        for id in ids {
            #expect(id.utf8.count == 28 && id.hasPrefix("req_"))
            #expect(id.dropFirst(4).allSatisfy { "0123456789abcdef".contains($0) })
        }
        let prefixes = Set(ids.map { $0.dropFirst(4).prefix(12) })
        #expect(prefixes.count == 1, "one process, one prefix")
        let first = try #require(UInt64(ids[0].suffix(12), radix: 16))
        let last = try #require(UInt64(ids[999].suffix(12), radix: 16))
        #expect(last > first, "the counter's part grows (other tests may take ids in between)")
    }
}
