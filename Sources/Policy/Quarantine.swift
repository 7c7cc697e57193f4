#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// How far a ban signal reaches (`session_quarantine`): nowhere (the request
/// fails over as for a refused credential), the session that drew it, or
/// every request of its key.
public enum QuarantineMode: String, Sendable, CaseIterable {
    case off, session, key
}

/// A session or key refused because an upstream flagged the account serving
/// it: its requests are not moved to other accounts until an admin releases it.
public struct Quarantine: Sendable, Equatable {
    public enum Scope: String, Sendable {
        case session, key
    }

    /// The store's id; 0 until stored.
    public var id: Int64
    public var scope: Scope
    /// The pool's session key (a digest, never what the client wrote); nil for a key's quarantine.
    public var session: String?
    public var keyID: Int64
    public var keyName: String
    /// The account the signal came from, and the signal's recorded name.
    public var account: String
    public var signal: String
    public var requestID: String
    public var createdAt: Date

    public init(
        id: Int64 = 0, scope: Scope, session: String?, keyID: Int64, keyName: String, account: String, signal: String, requestID: String,
        createdAt: Date
    ) {
        self.id = id
        self.scope = scope
        self.session = session
        self.keyID = keyID
        self.keyName = keyName
        self.account = account
        self.signal = signal
        self.requestID = requestID
        self.createdAt = createdAt
    }

    /// Whether a request of this key and session falls under it.
    public func covers(keyID: Int64, session: String?) -> Bool {
        guard keyID == self.keyID else { return false }
        switch scope {
        case .key: return true
        case .session: return session != nil && session == self.session
        }
    }
}
