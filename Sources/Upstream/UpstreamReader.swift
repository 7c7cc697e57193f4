import NIOCore
import SwitchboardCore

/// Reads an upstream response body chunk by chunk, with backpressure: the
/// connection reads from the socket only while fewer than a few chunks wait
/// here, so a slow client slows the upstream read and memory stays bounded.
///
/// The connection's idle timeout counts from the last bytes received, so a
/// client that stops reading for longer than `stream_idle_timeout` ends the
/// upstream response too: a client silent that long holds an upstream slot
/// for nothing.
///
/// One task reads at a time: first the attempt that peeks at the start, then the
/// producer that relays the rest. That hand-over is why this is a class.
/// Dropping a reader before the end closes its connection.
public final class UpstreamReader: @unchecked Sendable {
    typealias Chunks = NIOThrowingAsyncSequenceProducer<
        ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, BodyDemand
    >
    /// Chunks buffered ahead of the reader before the socket read pauses.
    static let backpressure = NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark(lowWatermark: 2, highWatermark: 8)

    private let chunks: Chunks
    private var iterator: Chunks.AsyncIterator?

    init(_ chunks: Chunks) { self.chunks = chunks }

    /// A body that is already whole (a scripted transport's): the chunks in
    /// order, then the end, or the failure.
    public static func complete(_ parts: [ByteBuffer], failure: TransportFailure? = nil) -> UpstreamReader {
        let made = Chunks.makeSequence(backPressureStrategy: backpressure, finishOnDeinit: true, delegate: BodyDemand(nil))
        _ = made.source.yield(contentsOf: parts)
        if let failure { made.source.finish(failure) } else { made.source.finish() }
        return UpstreamReader(made.sequence)
    }

    /// The next chunk, or nil at the end of the body.
    public func next() async throws(TransportFailure) -> ByteBuffer? {
        if iterator == nil { iterator = chunks.makeAsyncIterator() }
        do {
            return try await iterator!.next()
        } catch {
            throw TransportFailure.classify(error)
        }
    }

    /// Reads the whole body, up to `limit` bytes (more is `badResponse`).
    public func collect(upTo limit: Int) async throws(TransportFailure) -> ByteBuffer {
        guard var whole = try await next() else { return ByteBuffer() }
        guard whole.readableBytes <= limit else { throw .badResponse }
        while var chunk = try await next() {
            guard whole.readableBytes <= limit - chunk.readableBytes else { throw .badResponse }
            whole.writeBuffer(&chunk)
        }
        return whole
    }
}
