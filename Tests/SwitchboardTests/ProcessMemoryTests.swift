import CProcessMemory
import Foundation
import Testing

@testable import Engine

/// What the gateway gives back to the system (`ProcessMemory`, `HeapTrimmer`).
@Suite struct ProcessMemoryTests {
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

    /// The test binary is position-independent too, so it has a relocation table.
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

    /// Blocks freed in the middle of a heap stay resident until a trim gives them back.
    @Test func aTrimGivesBackPagesFreedInTheMiddleOfTheHeap() throws {
        let blockSize = 64 << 10  // under glibc's mmap threshold: from a heap, not a mapping of its own
        var blocks: [UnsafeMutableRawPointer] = []
        for _ in 0..<256 {
            let block = try #require(malloc(blockSize))
            memset(block, 0x5a, blockSize)
            blocks.append(block)
        }
        // Every other block freed: each kept one keeps its freed neighbours apart and off the top of the heap.
        let freed = stride(from: 0, to: blocks.count, by: 2).map { blocks[$0] }
        let kept = stride(from: 1, to: blocks.count, by: 2).map { blocks[$0] }
        defer { for block in kept { free(block) } }
        // The whole pages inside each freed block, past the page where malloc keeps its own header.
        let ranges = freed.map { block -> (UInt, UInt) in
            let start = UInt(bitPattern: block) + Self.page
            return (start / Self.page * Self.page, (UInt(bitPattern: block) + UInt(blockSize)) / Self.page * Self.page)
        }
        let resident = { try ranges.reduce(0) { $0 + (try Self.residentPages($1.0, $1.1)) } }
        let pages = ranges.reduce(0) { $0 + Int(($1.1 - $1.0) / Self.page) }
        #expect(try resident() == pages)

        let freeBefore = switchboard_heap_free_bytes()
        for block in freed { free(block) }
        #expect(switchboard_heap_free_bytes() >= freeBefore + freed.count / 2 * blockSize)
        #expect(try resident() > pages / 2, "glibc keeps freed pages in the middle of its heap")

        #expect(switchboard_trim_heap() == 1)
        // Other tests' threads may take some of the freed blocks again meanwhile.
        #expect(try resident() < pages / 10)
    }

    @Test func itTrimsWhenTheFreeBytesGrewByTheThresholdSinceTheLastTrim() {
        var decision = TrimDecision(threshold: 16 << 20)
        // Free megabytes at each check: 30 after 2 grew by 28; 30 and 40 again were given back
        // already (40 grew 10); reused down to 10, then freed up to 26: 16 since the lowest.
        let checks = [2, 30, 30, 40, 10, 26, 41, 42]
        let trims = checks.map { decision.shouldTrim(free: $0 << 20) }
        #expect(trims == [false, true, false, false, false, true, false, true])
    }
}
