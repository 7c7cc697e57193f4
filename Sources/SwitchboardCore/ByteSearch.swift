extension StringProtocol {
    /// Whether the text holds `part`, compared byte for byte as UTF-8.
    ///
    /// For the hot paths that look for fixed ASCII phrases (in every request's
    /// path, in every Anthropic request's system prompt): `contains` walks
    /// Characters (grapheme breaking over what may be tens of kilobytes) and
    /// allocates a searcher each call; this does neither.
    public func holdsBytes(_ part: some StringProtocol) -> Bool {
        let found = utf8.withContiguousStorageIfAvailable { text in
            part.utf8.withContiguousStorageIfAvailable { part in Self.search(text, part) }
        }
        if let found = found.flatMap({ $0 }) { return found }
        return Self.search(Array(utf8), Array(part.utf8))
    }

    private static func search(_ text: some RandomAccessCollection<UInt8>, _ part: some RandomAccessCollection<UInt8>) -> Bool {
        guard let first = part.first else { return true }
        guard text.count >= part.count else { return false }
        var start = text.startIndex
        let lastStart = text.index(text.endIndex, offsetBy: -part.count)
        while start <= lastStart {
            if text[start] == first, text[start..<text.index(start, offsetBy: part.count)].elementsEqual(part) { return true }
            start = text.index(after: start)
        }
        return false
    }
}
