/// Reads how long an upstream asks to wait.
enum RetryAfter {
    /// Whole seconds from `retry-after-ms` or `retry-after` (seconds form), rounded up.
    static func seconds(from headers: [(name: String, value: String)]) -> Int? {
        if let ms = headers.first(where: { $0.name == "retry-after-ms" }).flatMap({ Double($0.value) }), ms >= 0 {
            return Int((ms / 1000).rounded(.up))
        }
        if let seconds = headers.first(where: { $0.name == "retry-after" }).flatMap({ Double($0.value) }), seconds >= 0 {
            return Int(seconds.rounded(.up))
        }
        return nil
    }
}
