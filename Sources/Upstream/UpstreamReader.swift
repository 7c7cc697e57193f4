import AsyncAlgorithms
import AsyncHTTPClient
import NIOCore
import NIOPosix
import Synchronization
import SwitchboardCore

/// Reads an upstream response body chunk by chunk, with backpressure and an idle
/// timeout that counts only while the gateway waits for the upstream, never
/// while the upstream waits for a slow client.
///
/// A pump task reads the body one chunk ahead and hands chunks over through a
/// channel that holds one; it marks when it is waiting on the upstream. A
/// watchdog scheduled on an event loop checks that mark only when the idle
/// timeout could have passed, so the common path costs no timer per chunk. The
/// HTTP client's own read timeout cannot serve: it also fires while a slow
/// client holds the stream back.
///
/// One task consumes at a time: first the attempt that peeks at the start, then
/// the producer that relays the rest.
public final class UpstreamReader: @unchecked Sendable {
    private let pump: Pump
    private var iterator: AsyncThrowingChannel<ByteBuffer, any Error>.Iterator

    init(_ body: HTTPClientResponse.Body, idleTimeout: Duration) {
        let pump = Pump(idleTimeout: idleTimeout)
        self.pump = pump
        self.iterator = pump.channel.makeAsyncIterator()
        pump.start(body)
    }

    deinit {
        pump.stop()  // a consumer that walks away ends the upstream response
    }

    /// The next chunk, or nil at the end of the body.
    public func next() async throws(TransportFailure) -> ByteBuffer? {
        do {
            return try await iterator.next()
        } catch {
            throw UpstreamTransport.classify(error)
        }
    }

    /// Reads the rest of the body, up to `limit` bytes.
    public func collect(upTo limit: Int) async throws(TransportFailure) -> ByteBuffer {
        var all = ByteBuffer()
        while var chunk = try await next() {
            guard all.readableBytes + chunk.readableBytes <= limit else { throw .badResponse }
            all.writeBuffer(&chunk)
        }
        return all
    }
}

/// The reading side: the pump task and its watchdog.
private final class Pump: Sendable {
    let channel = AsyncThrowingChannel<ByteBuffer, any Error>()
    let idleTimeout: TimeAmount
    /// When the pump started waiting on the upstream (uptime nanoseconds), 0 when it is not.
    let waitingSince = Atomic<UInt64>(0)
    private let state = Mutex<(task: Task<Void, Never>?, watchdog: Scheduled<Void>?, done: Bool)>((nil, nil, false))
    private let eventLoop = MultiThreadedEventLoopGroup.singleton.any()

    init(idleTimeout: Duration) {
        let (seconds, attoseconds) = idleTimeout.components
        self.idleTimeout = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    func start(_ body: HTTPClientResponse.Body) {
        // An unstructured task: it must outlive the request handler that peeks
        // and serve the response writer that relays; `stop` ends it.
        let task = Task {
            do {
                var iterator = body.makeAsyncIterator()
                while true {
                    self.waitingSince.store(NIODeadline.now().uptimeNanoseconds, ordering: .relaxed)
                    let chunk = try await iterator.next()
                    self.waitingSince.store(0, ordering: .relaxed)
                    guard let chunk else { break }
                    await self.channel.send(chunk)  // waits until the consumer takes it
                    if Task.isCancelled { break }
                }
                self.channel.finish()
            } catch {
                self.channel.fail(error)
            }
            self.stop()
        }
        state.withLock { $0.task = task }
        arm(at: .now() + idleTimeout)
    }

    /// Ends the pump and the watchdog; safe to call more than once.
    func stop() {
        let (task, watchdog) = state.withLock { state -> (Task<Void, Never>?, Scheduled<Void>?) in
            defer { state = (nil, nil, true) }
            return (state.task, state.watchdog)
        }
        watchdog?.cancel()
        task?.cancel()
    }

    private func arm(at deadline: NIODeadline) {
        let scheduled = eventLoop.scheduleTask(deadline: deadline) { [weak self] in
            guard let self else { return }
            self.check()
        }
        let stale = state.withLock { state -> Bool in
            guard !state.done else { return true }
            state.watchdog = scheduled
            return false
        }
        if stale { scheduled.cancel() }
    }

    private func check() {
        let since = waitingSince.load(ordering: .relaxed)
        let now = NIODeadline.now()
        if since != 0, now.uptimeNanoseconds - since >= UInt64(idleTimeout.nanoseconds) {
            channel.fail(TransportFailure.idleTimeout)
            stop()
            return
        }
        arm(at: since == 0 ? now + idleTimeout : NIODeadline.uptimeNanoseconds(since) + idleTimeout)
    }
}
