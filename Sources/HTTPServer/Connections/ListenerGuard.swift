import Logging
import NIOCore
import NIOPosix
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// On the listening socket, before anything else sees an accepted connection:
/// admits it into the `ConnectionRegistry` (which may evict the stalest idle
/// connection, or refuse when all are busy: then it is closed at once), and
/// keeps the server alive when the process runs out of file descriptors:
/// accepting pauses briefly instead of failing in a loop, and the error is
/// logged at most once a second.
final class ListenerGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    /// How long accepting pauses after the process ran out of descriptors.
    static let pause: TimeAmount = .milliseconds(100)

    private let registry: ConnectionRegistry
    private let logger: Logger
    private var lastLogged: NIODeadline?
    private var paused = false

    init(registry: ConnectionRegistry, logger: Logger) {
        self.registry = registry
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let accepted = unwrapInboundIn(data)
        guard registry.admit(accepted, now: .now()) else {
            accepted.close(promise: nil)  // every connection is busy: this one is turned away at once
            return
        }
        let registry = registry
        accepted.closeFuture.whenComplete { _ in registry.remove(accepted) }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let io = error as? IOError, io.errnoCode == EMFILE || io.errnoCode == ENFILE {
            pauseAccepting(context)
            return  // not the listener's fault: it keeps listening
        }
        context.fireErrorCaught(error)
    }

    /// Stops accepting for a moment (connections wait in the backlog), so
    /// running out of descriptors cannot spin the event loop.
    private func pauseAccepting(_ context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        if lastLogged.map({ now - $0 >= .seconds(1) }) ?? true {
            lastLogged = now
            logger.error("out of file descriptors; accepting paused briefly", metadata: ["connections": "\(registry.count)"])
        }
        guard !paused else { return }
        paused = true
        let channel = context.channel
        _ = channel.setOption(ChannelOptions.autoRead, value: false)
        let this = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: Self.pause) {
            this.value.paused = false
            _ = channel.setOption(ChannelOptions.autoRead, value: true)
        }
    }
}

/// The descriptors a process may hold, raised to the hard limit where the soft
/// one is lower; the connection cap leaves a quarter of them (at least 64) for
/// upstream connections, the database and the journal.
enum DescriptorBudget {
    /// Raises the soft limit and returns how many client connections fit.
    static func connections(wanted: Int) -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return wanted }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        let available = limit.rlim_cur >= UInt64(Int.max) ? UInt64(Int.max) : UInt64(limit.rlim_cur)
        let reserve = max(64, available / 4)
        guard available > reserve else { return 1 }
        return min(wanted, Int(clamping: available - reserve))
    }
}
