import Foundation

/// Where decisions that depend on time (cooldowns, windows, session expiry) read
/// the time, so tests move a mock clock instead of sleeping.
public protocol GatewayClock: Sendable {
    /// The current time.
    func now() -> Date
}

/// The system's wall clock.
public struct SystemClock: GatewayClock {
    public init() {}
    public func now() -> Date { Date() }
}
