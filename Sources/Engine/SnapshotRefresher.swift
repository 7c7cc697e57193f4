import Logging
import ServiceLifecycle
import Storage
import SwitchboardCore
import Synchronization

/// Keeps the snapshot in step with the store: polls the store's revision and
/// reloads when it moved, so a key created or revoked by the CLI (another
/// process) takes effect within one interval, without a restart.
public struct SnapshotRefresher: Service {
    let loader: SnapshotLoader
    let holder: SnapshotHolder
    let interval: Duration
    let logger: Logger
    let retryClock = RetryClock()

    /// Creates the service.
    public init(loader: SnapshotLoader, holder: SnapshotHolder, interval: Duration = .milliseconds(250), logger: Logger) {
        self.loader = loader
        self.holder = holder
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            // PostgreSQL tells of a change as it commits; polling stays as the safety net (and is all SQLite has).
            group.addTask { [self] in
                await cancelWhenGracefulShutdownIgnoringErrors { await loader.store.watchChanges { await refreshIfChanged() } }
            }
            group.addTask { [self] in
                while !Task.isShuttingDownGracefully, !Task.isCancelled {
                    try? await LoopTimer.sleep(for: interval)
                    await refreshIfChanged()
                }
            }
        }
    }

    /// Reloads the snapshot when the store's revision differs from the held one.
    public func refreshIfChanged() async {
        do {
            let revision = try await loader.store.revision()
            // Also retry while secrets name a master key not found yet (a rotation's
            // rename lands just after its commit).
            let keyRetry = holder.snapshot.awaitsMasterKey && retryClock.due(every: .seconds(2))
            if revision != holder.snapshot.revision || keyRetry {
                holder.replace(with: try await loader.load())
                logger.info("configuration reloaded", metadata: ["revision": "\(revision)"])
            }
            holder.noteStore(failure: nil)
        } catch {
            // Readiness is public: a fixed reason there, the detail in the log.
            holder.noteStore(failure: "the database does not answer")
            logger.error("configuration reload failed; keeping the previous one", metadata: ["error": "\(error)"])
        }
    }
}

/// Spaces out retries: `due` answers true at most once per interval.
final class RetryClock: Sendable {
    private let last = Mutex<ContinuousClock.Instant?>(nil)

    func due(every interval: Duration) -> Bool {
        last.withLock { last in
            let now = ContinuousClock.now
            if let previous = last, previous.duration(to: now) < interval { return false }
            last = now
            return true
        }
    }
}
