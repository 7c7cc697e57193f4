import CProcessMemory
import Logging
import ServiceLifecycle
import SwitchboardCore
import Synchronization

/// Memory the gateway gives back to the system (bench/README.md, eighth round).
public enum ProcessMemory {
    /// Once the gateway listens, what only starting needed:
    /// - the executable's relocation table: the dynamic loader reads its 3-4 MB
    ///   once, to fix up addresses, and it stayed resident otherwise;
    /// - the allocator's free pages: loading the configuration, the store and
    ///   the snapshot frees most of what it allocated.
    public static func releaseStartup(logger: Logger) {
        let relocationTable = switchboard_release_relocation_table()
        let heapTrimmed = switchboard_trim_heap() == 1
        logger.debug(
            "released start-up memory", metadata: ["relocation_table_bytes": "\(relocationTable)", "heap_trimmed": "\(heapTrimmed)"])
    }
}

/// Gives the allocator's free memory back after a burst. glibc keeps the pages
/// it freed in the middle of its heaps until asked: after a thousand clients at
/// once, an idle gateway stayed at 124 MB resident, and 55 MB once trimmed
/// (bench/README.md).
///
/// Every `interval`, on the background thread, it reads how much the heaps
/// hold free, and trims when that grew by `threshold` since the last trim
/// (`TrimDecision`). Under steady load the heaps reuse what they free, so it
/// rarely trims; a trim walks the heaps under their locks, so it is not done
/// on every check.
public struct HeapTrimmer: Service {
    let interval: Duration
    let threshold: Int
    let logger: Logger

    public init(interval: Duration = .seconds(30), threshold: Int = 16 << 20, logger: Logger) {
        self.interval = interval
        self.threshold = threshold
        self.logger = logger
    }

    public func run() async {
        let decision = Mutex(TrimDecision(threshold: threshold))
        await withTaskExecutorPreference(BackgroundThread.executor) {
            await runPeriodically(every: interval, immediately: false) {
                let free = switchboard_heap_free_bytes()
                guard decision.withLock({ $0.shouldTrim(free: free) }) else { return }
                let released = switchboard_trim_heap() == 1
                logger.debug("trimmed the heap", metadata: ["free_bytes": "\(free)", "released": "\(released)"])
            }
        }
    }
}

/// Whether the heaps' free bytes are worth a trim: they grew by `threshold`
/// since the last trim. The free bytes count pages already given back too, so
/// the measure is the growth, not the level; when the heaps reuse free memory
/// the baseline follows it down, and what is freed again counts anew.
struct TrimDecision {
    let threshold: Int
    /// The free bytes at the last trim, or their lowest since.
    var baseline = 0

    init(threshold: Int) { self.threshold = threshold }

    mutating func shouldTrim(free: Int) -> Bool {
        baseline = min(baseline, free)
        guard free - baseline >= threshold else { return false }
        baseline = free
        return true
    }
}
