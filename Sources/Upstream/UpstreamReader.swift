import AsyncHTTPClient
import NIOCore
import SwitchboardCore

/// Reads an upstream response body chunk by chunk, with backpressure (a chunk is
/// requested only when the previous one was handled) and an idle timeout that
/// counts only while the gateway waits for the upstream, never while the
/// upstream waits for a slow client.
///
/// One task reads at a time: first the attempt that peeks at the start, then the
/// producer that relays the rest. That hand-over is why this is a class.
public final class UpstreamReader: @unchecked Sendable {
    private var base: HTTPClientResponse.Body.AsyncIterator
    /// The longest wait for the next chunk.
    public let idleTimeout: Duration

    init(_ body: HTTPClientResponse.Body, idleTimeout: Duration) {
        self.base = body.makeAsyncIterator()
        self.idleTimeout = idleTimeout
    }

    /// The next chunk, or nil at the end of the body.
    public func next() async throws(TransportFailure) -> ByteBuffer? {
        let result: Result<ByteBuffer?, TransportFailure> = await withTaskGroup(of: Result<ByteBuffer?, TransportFailure>?.self) { group in
            group.addTask {
                do {
                    return .success(try await self.base.next())
                } catch {
                    return .failure(UpstreamTransport.classify(error))
                }
            }
            group.addTask {
                // nil when cancelled because the chunk came first.
                guard (try? await Task.sleep(for: self.idleTimeout)) != nil else { return nil }
                return .failure(.idleTimeout)
            }
            var outcome: Result<ByteBuffer?, TransportFailure> = .failure(.other)
            if let first = await group.next(), let first { outcome = first }
            group.cancelAll()  // stops the timer, or abandons the read (which ends the upstream response)
            return outcome
        }
        return try result.get()
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
