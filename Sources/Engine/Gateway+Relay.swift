import Dialects
import Logging
import NIOCore
import Policy
import SwitchboardCore
import Synchronization
import Upstream

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension Gateway {
    /// Headers in which clients name their session: Claude Code's, then Codex's.
    public static let sessionHeaders = ["x-claude-code-session-id", "session-id", "session_id"]

    /// The session a request belongs to, as the pool's fixed-size key: the
    /// client's own session header, else what the body says (see
    /// `ClientRequest.sessionHint`).
    static func sessionKey(_ request: GatewayRequest, _ client: ClientRequest) -> String? {
        // A stored response lives on the account that answered it: nothing else may decide.
        if let previous = client.previousResponseID { return SessionKey.of(kind: "resp", previous) }
        for name in sessionHeaders {
            if let value = request.header(name), !value.isEmpty { return SessionKey.of(kind: "header", value) }
        }
        return client.sessionHint.map { SessionKey.of(kind: "body", $0) }
    }

    /// The pool's key for the first `bytes` of a request's body, when it is
    /// longer than that: a new session whose prompt starts the same way (a
    /// long system prompt, tools) goes where a recent one warmed the
    /// provider's prompt cache. Nil when off or the body is shorter.
    static func prefixKey(_ client: ClientRequest, bytes: Int) -> String? {
        guard bytes > 0, client.body.readableBytes > bytes else { return nil }
        return client.body.withUnsafeReadableBytes { SessionKey.of(kind: "prefix", bytes: UnsafeRawBufferPointer(rebasing: $0.prefix(bytes))) }
    }

    /// Keeps a relayed Responses answer's id on its account, so a request of
    /// the same key that continues it (`previous_response_id`) goes where the
    /// response is stored.
    func rememberAnswer(_ id: String?, account: AccountEntry, keyID: Int64) {
        guard let id, !id.isEmpty else { return }
        pool.remember(session: Self.poolSession(SessionKey.of(kind: "resp", id), keyID: keyID), on: account.id)
    }

    /// A session as the account pool keeps it: within its key.
    static func poolSession(_ session: String, keyID: Int64) -> String { "\(keyID):\(session)" }

    /// An upstream's refusal of a translated request, whose body is in the
    /// upstream's format, said in the client's with the upstream's status and message.
    func reworded(_ body: ByteBuffer?, status: Int, dialect: Dialect, requestID: String) -> GatewayResponse {
        let said = body.flatMap(Translator.upstreamMessage).map { ": " + $0 } ?? "."
        var answer = errorResponse(
            GatewayError(.invalidRequest, message: "The upstream provider refused the request (status \(status))" + said),
            dialect: dialect, requestID: requestID)
        answer.status = status
        return answer
    }

    /// One warning per failed attempt: which request, which account, the class
    /// and a fixed detail (never an upstream body).
    func logAttemptFailure(_ failure: AttemptFailure, request: GatewayRequest, account: String) {
        logger.warning(
            "upstream attempt failed",
            metadata: [
                "request": "\(request.requestID)", "account": "\(account)",
                "class": "\(failure.failureClass.rawValue)", "detail": "\(failure.detail)",
            ])
    }

    /// A keepalive each SDK ignores: an SSE comment for OpenAI's streams, a
    /// `ping` event for Anthropic; none for Gemini, whose SDK fails on comments.
    static func keepalive(_ dialect: Dialect) -> String? {
        switch dialect {
        case .openAIChat, .openAIResponses: return ": keepalive\n\n"
        case .anthropicMessages: return "event: ping\ndata: {\"type\": \"ping\"}\n\n"
        case .gemini: return nil
        }
    }
}

extension UpstreamRequest.Operation {
    /// Whether the operation counts tokens (no generation, no cost).
    var isCounting: Bool { self == .anthropicCountTokens || self == .geminiCountTokens }
}

extension Exchange {
    /// Settles a request refused before admission, and answers it.
    func refuseNow(_ error: GatewayError, outcome: Outcome) -> GatewayResponse {
        answer(decide { $0.refuse(error, outcome: outcome) })
    }
}

/// Requests without a valid key: a count for admins and metrics, and at most
/// one log line per second per client address (never the key presented).
final class UnauthenticatedRequests: Sendable {
    private let total = Atomic<Int>(0)
    private let lastLogged = Mutex<[String: Date]>([:])

    /// How many there were.
    var count: Int { total.load(ordering: .relaxed) }

    func note(address: String?, logger: Logger, now: Date) {
        total.add(1, ordering: .relaxed)
        let address = address ?? "unknown"
        let log = lastLogged.withLock { table -> Bool in
            if let last = table[address], now.timeIntervalSince(last) < 1 { return false }
            if table.count >= 10_000 { table = table.filter { now.timeIntervalSince($0.value) < 1 } }
            if table.count >= 10_000 { return false }
            table[address] = now
            return true
        }
        if log { logger.notice("request without a valid key", metadata: ["address": "\(address)"]) }
    }
}

/// Upstream connections this process could not open for want of file
/// descriptors: counted, and logged at most every ten seconds (a flood that
/// exhausts descriptors would otherwise log once per request).
final class OutOfDescriptors: Sendable {
    private let total = Atomic<Int>(0)
    private let lastLogged = Mutex<Date?>(nil)

    /// How many there were.
    var count: Int { total.load(ordering: .relaxed) }

    func note(logger: Logger, now: Date) {
        let count = total.add(1, ordering: .relaxed).newValue
        let log = lastLogged.withLock { last -> Bool in
            if let last, now.timeIntervalSince(last) < 10 { return false }
            last = now
            return true
        }
        if log { logger.error("out of file descriptors: an upstream connection could not be opened", metadata: ["total": "\(count)"]) }
    }
}
