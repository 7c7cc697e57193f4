import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Testing

@testable import HTTPServer

/// The parts of an answer written in one turn of the event loop leave together;
/// none is held past that turn.
@Suite struct FlushCoalescerTests {
    func channel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(FlushCoalescer())
        return channel
    }

    /// The parts that reached the socket so far, by kind.
    func sent(_ channel: EmbeddedChannel) throws -> [String] {
        var kinds: [String] = []
        while let part = try channel.readOutbound(as: HTTPResponsePart.self) {
            switch part {
            case .head: kinds.append("head")
            case .body(let buffer): kinds.append("body \(String(buffer: buffer))")
            case .end: kinds.append("end")
            }
        }
        return kinds
    }

    @Test func aStreamWrittenInOneTurnLeavesWithItsEnd() throws {
        let channel = try channel()
        channel.writeAndFlush(HTTPResponsePart.head(HTTPResponse(status: .ok)), promise: nil)
        channel.writeAndFlush(HTTPResponsePart.body(ByteBuffer(string: "data: 1\n\n")), promise: nil)
        // Held: nothing has reached the socket while the turn goes on.
        #expect(try sent(channel) == [])
        channel.writeAndFlush(HTTPResponsePart.body(ByteBuffer(string: "data: 2\n\n")), promise: nil)
        channel.writeAndFlush(HTTPResponsePart.end(nil), promise: nil)
        // The end's flush takes everything with it, at once.
        #expect(try sent(channel) == ["head", "body data: 1\n\n", "body data: 2\n\n", "end"])
        // The held flush then finds nothing left to send.
        channel.embeddedEventLoop.run()
        #expect(try sent(channel) == [])
        _ = try channel.finish()
    }

    @Test func aChunkWithNothingAfterItLeavesWhenTheTurnEnds() throws {
        let channel = try channel()
        channel.writeAndFlush(HTTPResponsePart.head(HTTPResponse(status: .ok)), promise: nil)
        channel.writeAndFlush(HTTPResponsePart.body(ByteBuffer(string: "data: 1\n\n")), promise: nil)
        channel.embeddedEventLoop.run()
        #expect(try sent(channel) == ["head", "body data: 1\n\n"])
        // The next chunk, written in a later turn (the upstream's next event), is not held by the first one.
        channel.writeAndFlush(HTTPResponsePart.body(ByteBuffer(string: "data: 2\n\n")), promise: nil)
        channel.embeddedEventLoop.run()
        #expect(try sent(channel) == ["body data: 2\n\n"])
        _ = try channel.finish()
    }

    @Test func aWholeAnswerLeavesAtOnce() throws {
        let channel = try channel()
        channel.write(HTTPResponsePart.head(HTTPResponse(status: .ok)), promise: nil)
        channel.write(HTTPResponsePart.body(ByteBuffer(string: "{}")), promise: nil)
        channel.writeAndFlush(HTTPResponsePart.end(nil), promise: nil)
        #expect(try sent(channel) == ["head", "body {}", "end"])
        _ = try channel.finish()
    }
}
