import CStartupMemory
import Logging

/// Memory that only starting needed, given back once the gateway listens: an
/// idle gateway then holds what serving uses (bench/README.md, eighth round).
/// - The executable's relocation table: the dynamic loader reads its 3-4 MB
///   once, to fix up addresses, and it stays resident otherwise.
/// - The allocator's free pages: loading the configuration, the store and the
///   snapshot frees most of what it allocated, and glibc keeps free pages in
///   the middle of its heaps until asked.
enum StartupMemory {
    static func release(logger: Logger) {
        let relocationTable = switchboard_release_relocation_table()
        let heapTrimmed = switchboard_trim_heap() == 1
        logger.debug(
            "released start-up memory", metadata: ["relocation_table_bytes": "\(relocationTable)", "heap_trimmed": "\(heapTrimmed)"])
    }
}
