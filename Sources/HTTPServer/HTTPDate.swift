import SwitchboardCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The `Date` response header, formatted at most once a second, when a
/// response asks for it (Hummingbird's was a service waking every second).
final class HTTPDate: Sendable {
    private let cached = Mutex<(second: time_t, text: String)>((-1, ""))

    /// Now, as IMF-fixdate.
    func now() -> String {
        let second = time(nil)
        return cached.withLock { cached in
            if cached.second != second { cached = (second, WireDate.httpDate(seconds: Int64(second))) }
            return cached.text
        }
    }
}
