#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

extension StringProtocol {
    /// Whether the text holds `part`, compared byte for byte as UTF-8.
    ///
    /// For the hot paths that look for fixed ASCII phrases (in every request's
    /// path, in every Anthropic request's system prompt): `contains` walks
    /// Characters (grapheme breaking over what may be tens of kilobytes) and
    /// allocates a searcher each call; this does neither.
    public func holdsBytes(_ part: some StringProtocol) -> Bool {
        let found = utf8.withContiguousStorageIfAvailable { text in
            part.utf8.withContiguousStorageIfAvailable { part in byteSearch(text, part) }
        }
        if let found = found.flatMap({ $0 }) { return found }
        return Array(utf8).withUnsafeBufferPointer { text in Array(part.utf8).withUnsafeBufferPointer { byteSearch(text, $0) } }
    }

    /// Whether the text starts with `prefix`, ASCII letters compared without
    /// case (a header value against a media type or a client's name): no
    /// lowercased copy of the text is made, as `lowercased().hasPrefix` does.
    public func hasPrefixIgnoringASCIICase(_ prefix: some StringProtocol) -> Bool {
        var text = utf8.makeIterator()
        for expected in prefix.utf8 {
            guard let byte = text.next(), asciiLowercased(byte) == asciiLowercased(expected) else { return false }
        }
        return true
    }
}

private func asciiLowercased(_ byte: UInt8) -> UInt8 {
    (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
}

/// Whether `part` occurs in `text`. Over buffers, not generic collections: a
/// generic search called from the generic `holdsBytes` was not specialized, and
/// its slices' `elementsEqual` allocated (12 times per Anthropic request).
private func byteSearch(_ text: UnsafeBufferPointer<UInt8>, _ part: UnsafeBufferPointer<UInt8>) -> Bool {
    guard let first = part.first else { return true }
    guard text.count >= part.count, let textStart = text.baseAddress, let partStart = part.baseAddress else { return false }
    for start in 0...(text.count - part.count) where text[start] == first {
        if memcmp(textStart + start, partStart, part.count) == 0 { return true }
    }
    return false
}
