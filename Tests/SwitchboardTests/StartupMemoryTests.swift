import CStartupMemory
import Foundation
import Testing

/// The shipped binary drops its relocation table once it listens
/// (`StartupMemory`); the test binary is position-independent too, so it has one.
@Suite struct StartupMemoryTests {
    static let page = UInt(sysconf(Int32(_SC_PAGESIZE)))

    /// How many pages of [first, last) are in this process's memory (`/proc/self/pagemap`, bit 63).
    static func residentPages(_ first: UInt, _ last: UInt) throws -> Int {
        let descriptor = open("/proc/self/pagemap", O_RDONLY)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        var entries = [UInt64](repeating: 0, count: Int((last - first) / page))
        let wanted = entries.count * MemoryLayout<UInt64>.size
        let read = entries.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, wanted, off_t(first / page * 8)) }
        try #require(read == wanted)
        return entries.count { $0 >> 63 == 1 }
    }

    /// A sum over one byte of each page: reading them brings every page in.
    static func touch(_ first: UInt, _ last: UInt) -> UInt64 {
        stride(from: first, to: last, by: Int(page)).reduce(0) { sum, address in
            sum &+ UInt64(UnsafePointer<UInt8>(bitPattern: address)!.pointee)
        }
    }

    @Test func theRelocationTableLeavesMemoryAndReadsTheSameAfter() throws {
        var first: UInt = 0
        var last: UInt = 0
        let length = switchboard_relocation_table_pages(&first, &last)
        try #require(length > 0, "a position-independent executable has relative relocations")
        let pages = length / Int(Self.page)
        let before = Self.touch(first, last)
        #expect(try Self.residentPages(first, last) == pages)

        #expect(switchboard_release_relocation_table() == length)
        #expect(try Self.residentPages(first, last) == 0)
        // Clean pages backed by the file: read again, they come back unchanged.
        #expect(Self.touch(first, last) == before)
        #expect(try Self.residentPages(first, last) == pages)
    }
}
