/// The deadlines of one client connection, as a state machine: events in
/// (bytes arrived, head parsed, request read, response written), the timer to
/// arm out. Pure; the `ConnectionGuard` handler feeds it and keeps the timer.
///
/// - a new connection, or bytes on an idle one: the whole head within `headerTimeout`;
/// - a parsed head: the body within `bodyTimeout`, or, past that, still
///   arriving at `bodyMinimumRate` on average since the head (so a large body
///   gets the time it needs, and a trickle is cut off);
/// - a request read in full: no deadline while the answer is written (LLM
///   streams are long), except that a client which takes none of it for
///   `sendTimeout` (the socket unwritable and not one byte taken) is reset;
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
        /// Out of time: close the connection.
        case close
        /// Out of time with an answer the client would not take: close with a
        /// reset, discarding what is still buffered for it (else the kernel
        /// would keep trying to deliver megabytes to a client that reads none).
        case abort
    }

    let limits: ConnectionLimits
    private(set) var phase: Phase = .awaitingHead
    private var headsParsed = 0
    private var requestsRead = 0
    private var responsesWritten = 0
    /// Bytes came in while an answer was being written (the next request began).
    private var bytesDuringAnswer = false
    /// The client takes no bytes: the socket's send buffer is full.
    private var sendBlocked = false
    /// Bytes waiting to be sent when the send timer was last armed: fewer at
    /// its end means the client is reading, however slowly.
    private var unsentAtArm: Int?
    /// When the current body started, and how many bytes of it have come.
    private var bodyStart: Duration = .zero
    private var bodyBytes = 0

    init(limits: ConnectionLimits) { self.limits = limits }

    /// Whether the connection may be closed to make room for a new one: it is
    /// between requests, still sending a head, or still sending a body. Only a
    /// connection whose request is read and being answered is safe.
    var isEvictable: Bool { phase != .responding }

    /// The connection opened.
    mutating func connected() -> Timer {
        phase = .awaitingHead
        return .arm(limits.headerTimeout)
    }

    /// Raw bytes arrived (`count` of them).
    mutating func bytesArrived(_ count: Int = 0) -> Timer {
        switch phase {
        case .idle:
            phase = .awaitingHead
            return .arm(limits.headerTimeout)
        case .responding:
            bytesDuringAnswer = true
            return .keep
        case .readingBody:
            bodyBytes += count
            return .keep
        case .awaitingHead:
            return .keep
        }
    }

    /// A request head was parsed at `now` (time since the connection opened); its body follows.
    mutating func headParsed(declaredLength: Int?, now: Duration = .zero) -> Timer {
        headsParsed += 1
        phase = .readingBody
        bodyStart = now
        bodyBytes = 0
        return .arm(limits.bodyTimeout)
    }

    /// The timer fired at `now`: close, unless a body is still arriving fast
    /// enough (then look again when it would next fall behind).
    /// `unsentBytes` is what still waits to be sent to the client, when known.
    mutating func timerFired(now: Duration, unsentBytes: Int? = nil) -> Timer {
        if phase == .responding {
            // Some bytes went out since the timer was armed: a slow reader, timed afresh.
            if let before = unsentAtArm, let unsent = unsentBytes, unsent < before {
                unsentAtArm = unsent
                return .arm(limits.sendTimeout)
            }
            return .abort
        }
        guard phase == .readingBody, limits.bodyMinimumRate > 0 else { return .close }
        let elapsed = now - bodyStart
        // The average since the head, against the slowest rate allowed.
        let covered = Duration.seconds(Double(bodyBytes) / Double(limits.bodyMinimumRate))
        guard covered > elapsed else { return .close }
        return .arm(max(covered - elapsed, .seconds(1)))
    }

    /// A request's body (or its end) was read in full.
    /// `unsentBytes` is read only when needed (asking the socket costs a little on every request).
    mutating func requestRead(unsentBytes: @autoclosure () -> Int? = nil) -> Timer {
        requestsRead += 1
        guard requestsRead >= headsParsed else { return .keep }
        phase = .responding
        guard sendBlocked else { return .cancel }
        unsentAtArm = unsentBytes()
        return .arm(limits.sendTimeout)
    }

    /// The socket became writable (the client reads again) or stopped being
    /// writable (its send buffer is full), with `unsentBytes` waiting. While an
    /// answer is written, a client that takes not one byte for `sendTimeout`
    /// is reset (as nginx's `send_timeout`: between two reads, not in all).
    mutating func writabilityChanged(writable: Bool, unsentBytes: Int? = nil) -> Timer {
        sendBlocked = !writable
        guard phase == .responding else { return .keep }
        if writable { return .cancel }
        unsentAtArm = unsentBytes
        return .arm(limits.sendTimeout)
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
