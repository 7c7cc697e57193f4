import CConcurrencyHook
import Foundation
import NIOCore
import NIOPosix
import SwitchboardCore

/// Makes NIO's event loops Swift concurrency's global executor: request
/// handlers and the sockets they use share threads instead of hopping between
/// the loops and libdispatch's pool on every await, and no task waits on a
/// libdispatch queue (whose Linux worker monitor traps the process when
/// descriptors run out; see `LoopTimer`).
///
/// NIO offers this (`NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor`)
/// but finds the runtime's hook with `dlsym`, which fails without a word in a
/// binary linked with `--static-swift-stdlib`, as the shipped one is: every
/// task ran on libdispatch there. Here the linker resolves the hook.
enum EventLoopExecutor {
    /// The runtime's type for the hook: a job, and the enqueue it replaces.
    private typealias Hook = @convention(thin) (UnownedJob, @convention(thin) (UnownedJob) -> Void) -> Void

    /// Installs the hook; call it first thing in `main`, before any task runs.
    static func install() {
        let hook: Hook = { job, _ in
            // `any()` is the caller's own loop when it is on one, so a task stays where it runs.
            // Run as the global executor's job, not as the loop's (`LoopTaskExecutor.enqueueGlobal`).
            LoopTaskExecutor.of(MultiThreadedEventLoopGroup.singleton.any()).enqueueGlobal(job)
        }
        switchboard_enqueue_global_hook().pointee = unsafeBitCast(hook, to: UnsafeMutableRawPointer.self)
    }

    /// Whether a new task runs on an event loop: says so on standard error when
    /// not, rather than failing without a word as NIO's lookup did.
    static func verify() async {
        let onLoop = await Task.detached { MultiThreadedEventLoopGroup.currentEventLoop != nil }.value
        guard !onLoop else { return }
        FileHandle.standardError.write(
            Data("switchboard: warning: tasks are not running on NIO's event loops (the executor hook did not take)\n".utf8))
    }
}
