/// The deadlines of one client connection, as a state machine: events in
/// (bytes arrived, head parsed, request read, response written), the timer to
/// arm out. Pure; the `ConnectionGuard` handler feeds it and keeps the timer.
///
/// - a new connection, or bytes on an idle one: the whole head within `headerTimeout`;
/// - a parsed head: the body within `bodyDeadline` (stretched for a large declared body);
/// - a request read in full: no deadline while the answer is written (LLM streams are long);
/// - the last answer written: `keepaliveTimeout` of silence before the next head starts.
///
/// Pipelined requests are counted, so a head parsed while an answer is still
/// being written keeps its own body deadline.
struct ConnectionClock: Sendable, Equatable {
    /// What the connection is doing.
    enum Phase: Sendable, Equatable {
        /// Waiting for (the rest of) a request head.
        case awaitingHead
        /// A head arrived; its body is being read.
        case readingBody
        /// Every request is read; an answer is being written.
        case responding
        /// Every request is answered; nothing has arrived since.
        case idle
    }

    /// What to do with the connection's one timer.
    enum Timer: Sendable, Equatable {
        /// Fire after this long (replacing any timer armed before).
        case arm(Duration)
        /// No timer.
        case cancel
        /// Leave the timer as it is.
        case keep
    }

    let limits: ConnectionLimits
    private(set) var phase: Phase = .awaitingHead
    private var headsParsed = 0
    private var requestsRead = 0
    private var responsesWritten = 0
    /// Bytes came in while an answer was being written (the next request began).
    private var bytesDuringAnswer = false

    init(limits: ConnectionLimits) { self.limits = limits }

    /// Whether the connection may be closed to make room for a new one: it is
    /// between requests, or still sending a head.
    var isEvictable: Bool { phase == .idle || phase == .awaitingHead }

    /// The connection opened.
    mutating func connected() -> Timer {
        phase = .awaitingHead
        return .arm(limits.headerTimeout)
    }

    /// Raw bytes arrived.
    mutating func bytesArrived() -> Timer {
        switch phase {
        case .idle:
            phase = .awaitingHead
            return .arm(limits.headerTimeout)
        case .responding:
            bytesDuringAnswer = true
            return .keep
        case .awaitingHead, .readingBody:
            return .keep
        }
    }

    /// A request head was parsed; its body follows.
    mutating func headParsed(declaredLength: Int?) -> Timer {
        headsParsed += 1
        phase = .readingBody
        return .arm(limits.bodyDeadline(declaredLength: declaredLength))
    }

    /// A request's body (or its end) was read in full.
    mutating func requestRead() -> Timer {
        requestsRead += 1
        guard requestsRead >= headsParsed else { return .keep }
        phase = .responding
        return .cancel
    }

    /// An answer was written in full.
    mutating func responseWritten() -> Timer {
        responsesWritten += 1
        guard responsesWritten >= requestsRead else { return .keep }
        if headsParsed > requestsRead { return .keep }  // a pipelined request's body is being read
        if bytesDuringAnswer {
            bytesDuringAnswer = false
            phase = .awaitingHead
            return .arm(limits.headerTimeout)
        }
        phase = .idle
        return .arm(limits.keepaliveTimeout)
    }
}
