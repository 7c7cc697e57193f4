import SwitchboardCore
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The console's logged-in browsers: a random session token (the cookie) maps
/// to its expiry, its CSRF token (a hidden field every form posts back) and
/// a message to show once. Held in memory only: a restart logs everyone out,
/// and no session can be read from disk or another process.
final class ConsoleSessions: Sendable {
    /// How long a login lasts.
    static let lifetime: TimeInterval = 8 * 3600
    /// The most sessions kept; the one closest to expiry goes first.
    static let maxSessions = 1_000
    /// The cookie's name.
    static let cookieName = "sb_console"

    struct Session: Sendable {
        var csrf: String
        var expiresAt: Date
        var flash: Flash?
    }

    /// A message for the next page: what an action did, or why it failed.
    struct Flash: Sendable {
        var text: String
        var isError: Bool
    }

    let clock: any GatewayClock
    private let sessions = Mutex<[String: Session]>([:])

    init(clock: any GatewayClock) { self.clock = clock }

    /// Starts a session; returns its token.
    func start() -> String {
        let token = Self.randomToken()
        let session = Session(csrf: Self.randomToken(), expiresAt: clock.now().addingTimeInterval(Self.lifetime))
        let now = clock.now()
        sessions.withLock { table in
            table = table.filter { $0.value.expiresAt > now }
            if table.count >= Self.maxSessions, let oldest = table.min(by: { $0.value.expiresAt < $1.value.expiresAt })?.key {
                table[oldest] = nil
            }
            table[token] = session
        }
        return token
    }

    /// The live session of a token, if any.
    func session(_ token: String?) -> Session? {
        guard let token, !token.isEmpty else { return nil }
        let now = clock.now()
        return sessions.withLock { table in
            guard let session = table[token] else { return nil }
            guard session.expiresAt > now else {
                table[token] = nil
                return nil
            }
            return session
        }
    }

    /// Whether `csrf` is the session's token (compared in constant time).
    func checks(_ token: String?, csrf: String?) -> Bool {
        guard let session = session(token), let csrf else { return false }
        return AdminRoutes.constantTimeEquals(csrf, session.csrf)
    }

    /// Ends a session.
    func end(_ token: String?) {
        guard let token else { return }
        _ = sessions.withLock { $0.removeValue(forKey: token) }
    }

    /// Leaves a message for the session's next page.
    func flash(_ token: String?, _ text: String, isError: Bool = false) {
        guard let token else { return }
        sessions.withLock { $0[token]?.flash = Flash(text: text, isError: isError) }
    }

    /// Takes the session's message, if it has one.
    func takeFlash(_ token: String?) -> Flash? {
        guard let token else { return nil }
        return sessions.withLock { table in
            let flash = table[token]?.flash
            table[token]?.flash = nil
            return flash
        }
    }

    /// 32 random bytes as hex.
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in
            let value = generator.next() as UInt64
            let hex = String(value, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }
}
