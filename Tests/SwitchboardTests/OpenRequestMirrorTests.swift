import Foundation
import SwitchboardCore
import Testing

@testable import Storage

/// What a replica files for the others about its open requests: each open
/// request once, each withdrawn once closed, nothing for one that closed
/// before it was filed, and a filing the database refused tried again.
@Suite struct OpenRequestMirrorTests {
    func entry(_ id: String) -> LedgerJournal.Entry {
        LedgerJournal.Entry(
            requestID: id, createdAt: Date(timeIntervalSince1970: 1_800_000_000), keyID: 1, keyName: "k", userName: nil,
            dialect: "openai_chat", model: "gpt-4o", stream: false, hold: Money(picos: 5), holdTokens: 10, promptBytes: 30, multiplierPPM: 1_000_000)
    }

    @Test func eachOpenRequestIsFiledOnceAndWithdrawnOnceClosed() {
        let mirror = OpenRequestMirror()
        mirror.opened(entry("a"))
        mirror.opened(entry("b"))
        mirror.closed(["b"])  // closed before any filing: never filed
        var changes = mirror.changes()
        #expect(changes.file.map(\.requestID) == ["a"] && changes.withdraw.isEmpty)
        #expect(mirror.changes().file.isEmpty)
        mirror.closed(["a"])
        changes = mirror.changes()
        #expect(changes.file.isEmpty && changes.withdraw == ["a"])
        #expect(mirror.changes().withdraw.isEmpty)
    }

    @Test func aFilingTheDatabaseRefusedIsTriedAgainUnlessClosedMeanwhile() {
        let mirror = OpenRequestMirror()
        mirror.opened(entry("a"))
        mirror.opened(entry("b"))
        let refused = mirror.changes()
        mirror.closed(["b"])  // closed while its filing failed
        mirror.restore(file: refused.file, withdraw: refused.withdraw)
        let again = mirror.changes()
        #expect(again.file.map(\.requestID) == ["a"])
        // b's withdrawal is harmless: it was never filed, and withdrawing deletes nothing.
        #expect(again.withdraw == ["b"])
    }
}
