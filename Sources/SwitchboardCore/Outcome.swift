/// How a request ended, as its ledger row and the request log record it.
///
/// One value per ending, decided by the relay machine; the database stores the
/// raw value, and a stored value this build does not know fails to read.
public enum Outcome: String, Sendable, Hashable, CaseIterable {
    /// Answered in full (or an upstream stream that ended as it should).
    case ok
    /// The client's request was at fault: bad JSON, unknown model, an upstream 4xx passed back.
    case clientError = "client_error"
    /// The key's allow-lists, rate window, concurrency or budgets refused it.
    case refused
    /// No account could take it (all cooling, full, disabled or unhealthy).
    case noAccount = "no_account"
    /// Every attempt failed upstream, or a committed stream broke.
    case upstreamError = "upstream_error"
    /// The client went away before the answer was complete.
    case clientDisconnected = "client_disconnected"
    /// Shutdown ran out of time while the request was in flight.
    case cancelled
    /// Claude Code's warmup, answered locally.
    case warmupIntercepted = "warmup_intercepted"
    /// Claude Code's title or topic request, answered locally.
    case titleIntercepted = "title_intercepted"
    /// Still in flight when the process died; settled at the next start.
    case interrupted
    /// Rows written by earlier builds for requests without a valid key.
    case unauthorized
    /// Rows written by earlier builds for requests that ended without settling.
    case abandoned
}

/// Where a row's token counts come from.
public enum UsageSource: String, Sendable, Hashable {
    /// The upstream reported them.
    case reported
    /// Estimated from the request and the delivered text (the upstream's report never came).
    case estimated
    /// No upstream answer was used: nothing to count.
    case none
}
