import NIOCore
import SwitchboardCore
import Testing

@testable import Dialects

@Suite struct UsageTests {
    func observe(_ fixture: String, observer: some StreamObserver) throws -> (any StreamObserver, [SSEEvent], [SSEEvent]) {
        var observer: any StreamObserver = observer
        var parser = SSEParser()
        var forwarded: [SSEEvent] = []
        var dropped: [SSEEvent] = []
        for event in try parser.push(ByteBuffer(string: try Fixture.text(fixture))) {
            if observer.observe(event) == .forward { forwarded.append(event) } else { dropped.append(event) }
        }
        return (observer, forwarded, dropped)
    }

    @Test func openAIStreamUsageIsReadAndTheExtraChunkDropped() throws {
        let (observer, forwarded, dropped) = try observe("openai-chat-stream.sse", observer: OpenAIChatStreamObserver(clientWantsUsage: false))
        #expect(observer.usage == TokenUsage(inputUncached: 176, cacheRead: 1024, output: 40))
        #expect(observer.completed)
        #expect(dropped.count == 1)
        #expect(dropped.first?.data.contains(#""choices":[]"#) == true)
        #expect(forwarded.last?.data == "[DONE]")
    }

    @Test func openAIStreamKeepsTheUsageChunkWhenTheClientAsked() throws {
        let (observer, _, dropped) = try observe("openai-chat-stream.sse", observer: OpenAIChatStreamObserver(clientWantsUsage: true))
        #expect(dropped.isEmpty)
        #expect(observer.usage?.cacheRead == 1024)
    }

    @Test func anthropicStreamCombinesStartAndLastDelta() throws {
        let (observer, forwarded, dropped) = try observe("anthropic-stream.sse", observer: AnthropicStreamObserver())
        #expect(observer.usage == TokenUsage(inputUncached: 472, cacheRead: 10240, cacheWrite5m: 1024, cacheWrite1h: 1024, output: 89))
        #expect(observer.completed)
        #expect(dropped.isEmpty)
        #expect(forwarded.count == 12)
    }

    @Test func anthropicCacheWritesWithoutASplitCountAsFiveMinute() {
        var parts = UsageReader.AnthropicParts()
        parts.input = 10
        parts.cacheCreation = 300
        parts.output = 5
        #expect(parts.usage == TokenUsage(inputUncached: 10, cacheWrite5m: 300, output: 5))
    }

    @Test func inStreamErrorsAreNoticed() throws {
        var openAI = OpenAIChatStreamObserver(clientWantsUsage: false)
        var parser = SSEParser()
        for event in try parser.push(ByteBuffer(string: "data: {\"error\":{\"type\":\"server_error\",\"message\":\"x\"}}\n\n")) {
            #expect(openAI.observe(event) == .forward)
        }
        #expect(openAI.upstreamErrorType == "server_error")
        #expect(!openAI.completed)

        var anthropic = AnthropicStreamObserver()
        for event in try parser.push(
            ByteBuffer(string: "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"x\"}}\n\n"))
        {
            _ = anthropic.observe(event)
        }
        #expect(anthropic.upstreamErrorType == "overloaded_error")
    }

    @Test func jsonBodiesOfBothDialects() {
        let openAI =
            #"{"id":"x","choices":[],"usage":{"prompt_tokens":100,"completion_tokens":20,"total_tokens":120,"prompt_tokens_details":{"cached_tokens":60},"completion_tokens_details":{"reasoning_tokens":8}}}"#
        var text = openAI
        let usage = text.withUTF8 { UsageReader.fromResponseBody(UnsafeRawBufferPointer($0), dialect: .openAIChat) }
        #expect(usage == TokenUsage(inputUncached: 40, cacheRead: 60, output: 20, reasoning: 8))

        var anthropic =
            #"{"type":"message","usage":{"input_tokens":7,"cache_read_input_tokens":3,"cache_creation_input_tokens":0,"output_tokens":2}}"#
        let anthropicUsage = anthropic.withUTF8 { UsageReader.fromResponseBody(UnsafeRawBufferPointer($0), dialect: .anthropicMessages) }
        #expect(anthropicUsage == TokenUsage(inputUncached: 7, cacheRead: 3, output: 2))

        var none = #"{"type":"message"}"#
        #expect(none.withUTF8 { UsageReader.fromResponseBody(UnsafeRawBufferPointer($0), dialect: .anthropicMessages) } == nil)
    }
}

@Suite struct UsagePrefilterTests {
    func check(_ text: String, _ name: StaticString) -> Bool {
        var text = text
        return text.withUTF8 { OpenAIChatStreamObserver.mayHaveObject(namedOneOf: [name], in: UnsafeRawBufferPointer($0)) }
    }

    @Test func findsObjectsAndSkipsNulls() {
        #expect(check(#"{"choices":[],"usage":{"prompt_tokens":1}}"#, "usage"))
        #expect(check(#"{"usage" : { "prompt_tokens":1}}"#, "usage"))
        #expect(check("{\"usage\"\n:\n{}}", "usage"))
        #expect(!check(#"{"choices":[{"delta":{"content":"hi"}}],"usage":null}"#, "usage"))
        #expect(!check(#"{"usage":null}"#, "error"))
        #expect(check(#"{"error":{"message":"x"}}"#, "error"))
        #expect(!check(#"{"usage"#, "usage"))
        // Names inside text are not members: a string that reads like one costs no parse.
        #expect(!check(#"{"choices":[{"delta":{"content":"\"usage\":{"}}],"usage":null}"#, "usage"))
        #expect(check(#"{"choices":[{"delta":{"content":"\"usage\":{"}}],"usage":{"total_tokens":3}}"#, "usage"))
    }

    @Test func absurdCountsFromAnUpstreamAreClampedNotTrapped() {
        let body = #"{"usage":{"prompt_tokens":5,"completion_tokens":-3,"prompt_tokens_details":{"cached_tokens":-9223372036854775808}}}"#
        var text = body
        let usage = text.withUTF8 { UsageReader.fromResponseBody(UnsafeRawBufferPointer($0), dialect: .openAIChat) }
        #expect(usage == TokenUsage(inputUncached: 5, cacheRead: 0, output: 0))
        let huge =
            #"{"usageMetadata":{"promptTokenCount":9223372036854775807,"toolUsePromptTokenCount":9223372036854775807,"candidatesTokenCount":1}}"#
        var hugeText = huge
        let gemini = hugeText.withUTF8 { UsageReader.fromResponseBody(UnsafeRawBufferPointer($0), dialect: .gemini) }
        #expect(gemini?.inputUncached == 2 * UsageReader.maxCount)
    }
}
