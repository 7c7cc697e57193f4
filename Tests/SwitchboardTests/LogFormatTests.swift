import Foundation
import Logging
import Testing

@testable import SwitchboardApp

/// Log lines as operators' tools read them: one event per line whatever a
/// client put in a value, as text or as JSON.
@Suite struct LogFormatTests {
    static func event(_ message: String, _ metadata: Logger.Metadata) -> LogEvent {
        LogEvent(level: .info, message: "\(message)", metadata: metadata, source: "t", file: #fileID, function: #function, line: #line)
    }

    @Test func jsonIsOneObjectPerLineWithEveryValueAString() throws {
        let handler = LineLogHandler(label: "switchboard", format: .json)
        let line = handler.render(
            Self.event(
                "request",
                [
                    "model": "evil\nmodel\"}{", "status": "200", "level": "forged", "huge": .string(String(repeating: "x", count: 5_000)),
                ]))
        #expect(line.hasSuffix("\n") && line.dropLast().allSatisfy { $0 != "\n" && $0 != "\r" })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        #expect(object["message"] == "request" && object["label"] == "switchboard" && object["status"] == "200")
        #expect(object["model"] == "evil\nmodel\"}{", "the value intact inside its string")
        #expect(object["level"] == "info", "metadata cannot replace the event's own members")
        #expect((object["huge"]?.utf8.count ?? 0) <= LineLogHandler.maxValueBytes + 3 && object["huge"]?.hasSuffix("…") == true)
        #expect(object["time"] != nil)
    }

    @Test func textStaysKeyValueOnOneLine() {
        let line = LineLogHandler(label: "switchboard").render(Self.event("request", ["model": "a b\nc", "status": "200"]))
        #expect(line.hasSuffix(" model=\"a b\\nc\" status=200\n") && line.contains(" info switchboard: request"))
    }
}
