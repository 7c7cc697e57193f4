import Dialects
import NIOCore
import SwitchboardCore
import Upstream

/// Parses an upstream stream and decides, event by event, what the client
/// sees; counts the generated text it passes on, for an estimate should the
/// upstream's usage never come.
struct StreamRelay: Sendable {
    var parser = SSEParser()
    var observer: any StreamObserver
    /// The upstream's format, whose members hold the text.
    let upstreamDialect: Dialect
    /// Whether anything reached the client; until then the attempt may still fail over.
    var committed = false

    init(observer: any StreamObserver, upstreamDialect: Dialect) {
        self.observer = observer
        self.upstreamDialect = upstreamDialect
    }

    /// What a chunk yielded.
    enum Absorbed {
        /// Bytes to send (possibly none), and the generated text bytes among them.
        case events(ByteBuffer, textBytes: Int64)
        /// Before anything was sent, the upstream reported an error in the
        /// stream: its type decides between failing over and showing the client
        /// the chunk's events (the error among them).
        case upstreamErrorFirst(type: String, events: ByteBuffer, textBytes: Int64)
    }

    /// Takes a chunk and returns the events to forward, whole, in one buffer.
    mutating func absorb(_ chunk: ByteBuffer) throws -> Absorbed {
        forward(try parser.push(chunk))
    }

    /// Ends the stream: a final event completed by the end is forwarded; an event
    /// cut in the middle is dropped, as the SSE specification says.
    mutating func finish() -> (ByteBuffer, textBytes: Int64) {
        var out = ByteBuffer()
        var text: Int64 = 0
        switch forward(parser.finish().events) {
        case .events(let last, let bytes), .upstreamErrorFirst(_, let last, let bytes): (out, text) = (last, bytes)
        }
        if let end = observer.missingEnd { out.writeString(end) }
        return (out, text)
    }

    private mutating func forward(_ events: [SSEEvent]) -> Absorbed {
        var out = ByteBuffer()
        var text: Int64 = 0
        var errorFirst: String?
        for event in events {
            let errorBefore = observer.upstreamErrorType
            let verdict = observer.observe(event)
            if !committed, out.readableBytes == 0, errorBefore == nil, let type = observer.upstreamErrorType {
                errorFirst = type
            }
            if event.hasData { text = text.saturatingAdd(DeliveredText.count(event.data, dialect: upstreamDialect)) }
            switch verdict {
            case .forward:
                var raw = event.raw
                out.writeBuffer(&raw)
            case .replace(var bytes):
                out.writeBuffer(&bytes)
            case .drop:
                break
            }
        }
        if let errorFirst { return .upstreamErrorFirst(type: errorFirst, events: out, textBytes: text) }
        return .events(out, textBytes: text)
    }

    /// What the stream carried so far, for billing.
    func progress(deliveredBytes: Int64, deliveredTextBytes: Int64) -> StreamProgress {
        StreamProgress(
            usage: observer.usage, completed: observer.completed, upstreamErrorType: observer.upstreamErrorType,
            deliveredBytes: deliveredBytes, deliveredTextBytes: deliveredTextBytes)
    }
}

/// A stream whose first event is ready: the relay state, the first bytes, and
/// the reader for the rest.
struct PendingStream: Sendable {
    var relay: StreamRelay
    var first: ByteBuffer
    var firstTextBytes: Int64
    /// Handed from the task that peeks at the stream to the one that relays it.
    var reader: UpstreamReader
    var status: Int
}
