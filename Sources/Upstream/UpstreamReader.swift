import AsyncHTTPClient
import NIOCore
import SwitchboardCore

/// Reads an upstream response body chunk by chunk, with backpressure: the next
/// chunk is requested only once the previous one was handled, so a slow client
/// slows the upstream read and memory stays bounded.
///
/// The HTTP client's read timeout bounds the silence between chunks. It counts
/// from the last bytes received, so a client that stops reading for longer
/// than `stream_idle_timeout` ends the upstream response too; a per-chunk timer
/// that paused during backpressure was measured to cost a third of the
/// gateway's throughput, and a client silent that long holds an upstream slot
/// for nothing.
///
/// One task reads at a time: first the attempt that peeks at the start, then the
/// producer that relays the rest. That hand-over is why this is a class.
public final class UpstreamReader: @unchecked Sendable {
    private let body: HTTPClientResponse.Body
    private var iterator: HTTPClientResponse.Body.AsyncIterator?

    init(_ body: HTTPClientResponse.Body) { self.body = body }

    /// The next chunk, or nil at the end of the body.
    public func next() async throws(TransportFailure) -> ByteBuffer? {
        if iterator == nil { iterator = body.makeAsyncIterator() }
        do {
            return try await iterator!.next()
        } catch {
            throw UpstreamTransport.classify(error)
        }
    }

    /// Reads the whole body, up to `limit` bytes.
    public func collect(upTo limit: Int) async throws(TransportFailure) -> ByteBuffer {
        do {
            return try await body.collect(upTo: limit)
        } catch {
            throw UpstreamTransport.classify(error)
        }
    }
}
