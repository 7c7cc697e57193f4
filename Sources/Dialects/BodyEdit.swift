public import NIOCore

/// A splice of a JSON body: replace `range` (byte offsets) with `replacement`.
public struct BodyEdit: Sendable {
    /// The bytes replaced; an empty range inserts.
    public var range: Range<Int>
    /// What goes in their place.
    public var replacement: String

    /// Creates an edit.
    public init(range: Range<Int>, replacement: String) {
        self.range = range
        self.replacement = replacement
    }

    /// Applies non-overlapping edits to a body, leaving every other byte as it was.
    public static func apply(_ edits: [BodyEdit], to body: ByteBuffer) -> ByteBuffer {
        guard !edits.isEmpty else { return body }
        let sorted = edits.sorted { $0.range.lowerBound < $1.range.lowerBound }
        var out = ByteBuffer()
        out.reserveCapacity(body.readableBytes + sorted.reduce(0) { $0 + $1.replacement.utf8.count })
        var cursor = 0
        for edit in sorted {
            if edit.range.lowerBound > cursor, var slice = body.getSlice(at: body.readerIndex + cursor, length: edit.range.lowerBound - cursor) {
                out.writeBuffer(&slice)
            }
            out.writeString(edit.replacement)
            cursor = max(cursor, edit.range.upperBound)
        }
        if body.readableBytes > cursor, var tail = body.getSlice(at: body.readerIndex + cursor, length: body.readableBytes - cursor) {
            out.writeBuffer(&tail)
        }
        return out
    }
}
