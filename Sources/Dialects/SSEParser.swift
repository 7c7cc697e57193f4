public import NIOCore

/// One server-sent event, with the exact bytes it arrived as.
public struct SSEEvent: Sendable {
    /// The event's bytes as received, through the blank line that ended it, so a
    /// relay can forward it untouched.
    public var raw: ByteBuffer
    /// The `event:` field, if any.
    public var event: String?
    /// The `data:` lines joined with newlines; empty when there were none.
    public var data: String
    /// Whether the event had at least one `data:` line.
    public var hasData: Bool

    /// Creates an event.
    public init(raw: ByteBuffer, event: String?, data: String, hasData: Bool) {
        self.raw = raw
        self.event = event
        self.data = data
        self.hasData = hasData
    }
}

/// Splits a byte stream into server-sent events, whatever the chunk boundaries.
///
/// Lines may end in CRLF, LF or CR (the SSE specification allows all three). A CR
/// that ends a chunk is held until the next byte shows whether an LF follows, so
/// an event's raw bytes never split a line ending.
public struct SSEParser: Sendable {
    /// The largest event accepted; a longer one is a broken upstream, not a slow one.
    public let maxEventBytes: Int

    private var pending = ByteBuffer()
    /// Offset (from the reader index) where the current line starts.
    private var lineStart = 0
    /// Offset where scanning for a line ending resumes.
    private var scanFrom = 0
    private var eventName: String?
    private var dataLines: [String] = []
    private var sawData = false

    /// Creates a parser.
    public init(maxEventBytes: Int = 16 * 1024 * 1024) { self.maxEventBytes = maxEventBytes }

    /// An event grew past `maxEventBytes`.
    public struct EventTooLarge: Error {}

    /// Whether the stream has ended, so a final CR needs no LF to complete it.
    private var ended = false

    /// Feeds a chunk and returns the events it completed.
    public mutating func push(_ chunk: ByteBuffer) throws -> [SSEEvent] {
        var chunk = chunk
        pending.writeBuffer(&chunk)
        return try drain()
    }

    private mutating func drain() throws -> [SSEEvent] {
        var events: [SSEEvent] = []
        while let (lineEnd, terminatorLength) = nextLineEnding() {
            let lineLength = lineEnd - lineStart
            let next = lineEnd + terminatorLength
            if lineLength == 0 {
                events.append(takeEvent(length: next))
            } else {
                processLine(from: lineStart, length: lineLength)
                lineStart = next
                scanFrom = next
            }
        }
        if pending.readableBytes > maxEventBytes { throw EventTooLarge() }
        // Reclaim consumed bytes once per chunk, not once per event: events are
        // slices of this buffer, so compacting per event would copy the rest each time.
        if pending.readableBytes == 0 {
            pending.clear()
        } else if pending.readerIndex > 64 * 1024 {
            pending.discardReadBytes()
        }
        return events
    }

    /// Ends the stream: returns the events a final CR completes, and the bytes of
    /// an event the stream ended in the middle of (nil when none), for callers
    /// that forward them anyway.
    public mutating func finish() -> (events: [SSEEvent], unfinished: ByteBuffer?) {
        ended = true
        let events = (try? drain()) ?? []
        let rest = pending.readableBytes > 0 ? pending : nil
        self = SSEParser(maxEventBytes: maxEventBytes)
        return (events, rest)
    }

    private mutating func nextLineEnding() -> (Int, Int)? {
        let ended = self.ended
        let found: (Int, Int)?? = pending.withUnsafeReadableBytes { bytes in
            var index = scanFrom
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\n") { return (index, 1) }
                if byte == UInt8(ascii: "\r") {
                    guard index + 1 < bytes.count else {
                        // Wait: an LF may follow in the next chunk, unless the stream ended.
                        return ended ? (index, 1) : .some(nil)
                    }
                    return (index, bytes[index + 1] == UInt8(ascii: "\n") ? 2 : 1)
                }
                index += 1
            }
            return .some(nil)
        }
        if case .some(.some(let ending)) = found { return ending }
        // Nothing complete: resume after what was scanned (but keep a lone trailing CR in view).
        let count = pending.readableBytes
        scanFrom = count > 0 && pending.getInteger(at: pending.readerIndex + count - 1, as: UInt8.self) == UInt8(ascii: "\r") ? count - 1 : count
        return nil
    }

    private mutating func processLine(from start: Int, length: Int) {
        let view = pending.readableBytesView
        let line = view[(view.startIndex + start)..<(view.startIndex + start + length)]
        if line.first == UInt8(ascii: ":") { return }  // comment
        let colon = line.firstIndex(of: UInt8(ascii: ":"))
        let nameBytes = line[line.startIndex..<(colon ?? line.endIndex)]
        var valueBytes = colon.map { line[($0 + 1)...] } ?? line[line.endIndex...]
        if valueBytes.first == UInt8(ascii: " ") { valueBytes = valueBytes.dropFirst() }
        // Names compared as bytes: no string is made for them (this runs for every line of a stream).
        if nameBytes.elementsEqual("data".utf8) {
            dataLines.append(String(decoding: valueBytes, as: UTF8.self))
            sawData = true
        } else if nameBytes.elementsEqual("event".utf8) {
            eventName = String(decoding: valueBytes, as: UTF8.self)
        }
        // id, retry and unknown fields pass through in the raw bytes.
    }

    private mutating func takeEvent(length: Int) -> SSEEvent {
        let raw = pending.readSlice(length: length)!
        // Most events have one data line: it is the data as it is, not a join's new string.
        let data = dataLines.count == 1 ? dataLines[0] : dataLines.joined(separator: "\n")
        let event = SSEEvent(raw: raw, event: eventName, data: data, hasData: sawData)
        lineStart = 0
        scanFrom = 0
        eventName = nil
        dataLines.removeAll(keepingCapacity: true)
        sawData = false
        return event
    }
}
