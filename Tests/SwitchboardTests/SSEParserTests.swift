import Dialects
import Foundation
import NIOCore
import Testing

@Suite struct SSEParserTests {
    struct Parsed: Equatable {
        var event: String?
        var data: String
        var raw: String
    }

    func parse(_ chunks: [String]) throws -> [Parsed] {
        var parser = SSEParser()
        var out: [Parsed] = []
        for chunk in chunks {
            for event in try parser.push(ByteBuffer(string: chunk)) {
                out.append(Parsed(event: event.event, data: event.data, raw: String(buffer: event.raw)))
            }
        }
        let end = parser.finish()
        #expect(end.unfinished == nil)
        out += end.events.map { Parsed(event: $0.event, data: $0.data, raw: String(buffer: $0.raw)) }
        return out
    }

    func variants(_ name: String) throws -> [String] {
        let lf = try Fixture.text(name)
        return [lf, lf.replacingOccurrences(of: "\n", with: "\r\n"), lf.replacingOccurrences(of: "\n", with: "\r")]
    }

    @Test(arguments: ["openai-chat-stream.sse", "anthropic-stream.sse"])
    func sameEventsAtEveryByteBoundary(fixture: String) throws {
        for text in try variants(fixture) {
            let whole = try parse([text])
            #expect(whole.map(\.raw).joined() == text, "raw bytes must reassemble the stream exactly")
            let count = text.utf8.count
            for point in 1..<count {
                let pieces = splitBytes(text, at: [point])
                #expect(try parseBytes(pieces) == whole, "split at byte \(point)")
            }
        }
    }

    @Test(arguments: ["openai-chat-stream.sse", "anthropic-stream.sse"])
    func sameEventsOneByteAtATime(fixture: String) throws {
        for text in try variants(fixture) {
            let bytes = Array(text.utf8)
            #expect(try parseBytes(bytes.map { [$0] }) == (try parse([text])))
        }
    }

    func splitBytes(_ text: String, at points: [Int]) -> [[UInt8]] {
        let bytes = Array(text.utf8)
        var pieces: [[UInt8]] = []
        var start = 0
        for point in points + [bytes.count] {
            pieces.append(Array(bytes[start..<point]))
            start = point
        }
        return pieces
    }

    func parseBytes(_ pieces: [[UInt8]]) throws -> [Parsed] {
        var parser = SSEParser()
        var out: [Parsed] = []
        for piece in pieces {
            for event in try parser.push(ByteBuffer(bytes: piece)) {
                out.append(Parsed(event: event.event, data: event.data, raw: String(buffer: event.raw)))
            }
        }
        out += parser.finish().events.map { Parsed(event: $0.event, data: $0.data, raw: String(buffer: $0.raw)) }
        return out
    }

    @Test func readsFieldsAsTheSpecificationSays() throws {
        let events = try parse([": comment\n\nevent: a\ndata: one\ndata:two\nid: 7\n\ndata\n\n"])
        #expect(events.count == 3)
        #expect(events[0].event == nil && events[0].data == "")
        #expect(events[1].event == "a" && events[1].data == "one\ntwo")
        #expect(events[2].data == "")
    }

    @Test func keepsAnUnfinishedEventForTheCaller() throws {
        var parser = SSEParser()
        #expect(try parser.push(ByteBuffer(string: "data: {\"a\":1}\n")).isEmpty)
        #expect(parser.finish().unfinished.map { String(buffer: $0) } == "data: {\"a\":1}\n")
    }

    @Test func refusesAnEndlessEvent() {
        var parser = SSEParser(maxEventBytes: 64)
        #expect(throws: SSEParser.EventTooLarge.self) {
            _ = try parser.push(ByteBuffer(string: "data: " + String(repeating: "x", count: 100)))
        }
    }
}
