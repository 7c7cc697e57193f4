import Logging
import ServiceLifecycle

/// Keeps the snapshot in step with the store: polls the store's revision and
/// reloads when it moved, so a key created or revoked by the CLI (another
/// process) takes effect within one interval, without a restart.
public struct SnapshotRefresher: Service {
    let loader: SnapshotLoader
    let holder: SnapshotHolder
    let interval: Duration
    let logger: Logger

    /// Creates the service.
    public init(loader: SnapshotLoader, holder: SnapshotHolder, interval: Duration = .milliseconds(250), logger: Logger) {
        self.loader = loader
        self.holder = holder
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await Task.sleep(for: interval)
            await refreshIfChanged()
        }
    }

    /// Reloads the snapshot when the store's revision differs from the held one.
    public func refreshIfChanged() async {
        do {
            let revision = try await loader.store.revision()
            guard revision != holder.snapshot.revision else { return }
            holder.replace(with: try await loader.load())
            logger.info("configuration reloaded", metadata: ["revision": "\(revision)"])
        } catch {
            logger.error("configuration reload failed; keeping the previous one", metadata: ["error": "\(error)"])
        }
    }
}
