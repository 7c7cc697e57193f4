#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Finds the members of a JSON text by name without parsing it, for the checks
/// made on every event of a stream (is there a usage object? how much text was
/// written?). One pass from string to string (`memchr` for the quotes): a
/// string followed by `:` is a member's name. Members of nested objects are
/// found as well as top-level ones; a name inside a string value never matches.
/// Malformed text ends the scan where it stops making sense; nothing is read
/// out of bounds.
struct MemberScanner {
    /// A member found: where its name's bytes are, and where its value starts
    /// (after the colon and any whitespace; may be `bytes.count`).
    struct Member {
        var name: Range<Int>
        var value: Int
    }

    private let bytes: UnsafeRawBufferPointer
    private var index = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// The next member, or nil at the end of the text.
    mutating func next() -> Member? {
        while let open = find(UInt8(ascii: "\""), from: index) {
            guard let close = closingQuote(from: open + 1) else {
                index = bytes.count
                return nil
            }
            var after = skipSpace(close + 1)
            guard after < bytes.count, bytes[after] == UInt8(ascii: ":") else {
                index = close + 1
                continue
            }
            after = skipSpace(after + 1)
            // Scanning goes on from the value: a string value is skipped as the next string, an object's members follow.
            index = after
            return Member(name: (open + 1)..<close, value: after)
        }
        index = bytes.count
        return nil
    }

    /// Whether the member's name is `name`, byte for byte.
    func name(of member: Member, is name: StaticString) -> Bool {
        guard member.name.count == name.utf8CodeUnitCount, let base = bytes.baseAddress else { return false }
        return memcmp(base + member.name.lowerBound, name.utf8Start, member.name.count) == 0
    }

    /// Whether the member's name is one of `names`.
    func name(of member: Member, isOneOf names: [StaticString]) -> Bool {
        names.contains { name(of: member, is: $0) }
    }

    /// Whether the member's value is an object.
    func holdsObject(_ member: Member) -> Bool {
        member.value < bytes.count && bytes[member.value] == UInt8(ascii: "{")
    }

    /// The length of the member's string value, an escape counted as one
    /// byte; scanning goes on after it. Nil when the value is not a string.
    mutating func stringLength(_ member: Member) -> Int64? {
        guard member.value < bytes.count, bytes[member.value] == UInt8(ascii: "\"") else { return nil }
        var next = member.value + 1
        var length: Int64 = 0
        while next < bytes.count, bytes[next] != UInt8(ascii: "\"") {
            next += bytes[next] == UInt8(ascii: "\\") ? (next + 1 < bytes.count && bytes[next + 1] == UInt8(ascii: "u") ? 6 : 2) : 1
            length += 1
        }
        index = min(next + 1, bytes.count)
        return length
    }

    /// The quote that ends a string whose content starts at `start`: the first
    /// one not escaped (preceded by an even run of backslashes).
    private func closingQuote(from start: Int) -> Int? {
        var from = start
        while let quote = find(UInt8(ascii: "\""), from: from) {
            var backslashes = 0
            var back = quote - 1
            while back >= start, bytes[back] == UInt8(ascii: "\\") {
                backslashes += 1
                back -= 1
            }
            if backslashes % 2 == 0 { return quote }
            from = quote + 1
        }
        return nil
    }

    private func find(_ byte: UInt8, from start: Int) -> Int? {
        guard start < bytes.count, let base = bytes.baseAddress, let found = memchr(base + start, Int32(byte), bytes.count - start) else {
            return nil
        }
        return UnsafeRawPointer(base).distance(to: UnsafeRawPointer(found))
    }

    private func skipSpace(_ start: Int) -> Int {
        var index = start
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 || bytes[index] == 0x0A || bytes[index] == 0x0D { index += 1 }
        return index
    }
}
