import Dialects
import Foundation
import NIOCore
import SwitchboardCore
import Testing

/// Translation checked piece by piece on recorded fixtures: the same conversation
/// written in each client dialect becomes the same request at each provider, and
/// recorded upstream streams come out the same however they are split.
@Suite struct TranslationFixtureTests {
    static let clients: [(String, Dialect)] = [
        ("conversation-chat.json", .openAIChat), ("conversation-messages.json", .anthropicMessages),
        ("conversation-responses.json", .openAIResponses), ("conversation-gemini.json", .gemini),
    ]
    static let providers: [(Provider, String)] = [
        (.openai, "expected-openai.json"), (.anthropic, "expected-anthropic.json"), (.gemini, "expected-gemini.json"),
    ]

    static func translator(_ body: String, _ dialect: Dialect, stream: Bool = false) throws -> Translator {
        let request = try ClientRequest.inspect(ByteBuffer(string: body), dialect: dialect, pathModel: "client-model", pathStream: stream)
        return try Translator(request)
    }

    static func object(_ text: String) throws -> NSDictionary {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? NSDictionary)
    }

    @Test(arguments: clients)
    func oneConversationBecomesTheSameRequestAtEveryProvider(fixture: String, dialect: Dialect) throws {
        let translator = try Self.translator(try Fixture.text(fixture), dialect)
        for (provider, expected) in Self.providers {
            let body = String(buffer: try translator.upstreamBody(for: provider, model: "upstream-model"))
            #expect(try Self.object(body) == (try Self.object(try Fixture.text(expected))), "\(dialect) → \(provider): \(body)")
        }
    }

    /// Runs a recorded upstream stream through a translating observer in the given chunks.
    static func replay(_ bytes: [UInt8], splitAt cuts: [Int], observer: inout any StreamObserver) throws -> String {
        var parser = SSEParser()
        var out = ""
        func take(_ events: [SSEEvent]) {
            for event in events {
                switch observer.observe(event) {
                case .forward: out += String(buffer: event.raw)
                case .replace(let bytes): out += String(buffer: bytes)
                case .drop: break
                }
            }
        }
        var start = 0
        for cut in cuts + [bytes.count] {
            take(try parser.push(ByteBuffer(bytes: bytes[start..<cut])))
            start = cut
        }
        take(parser.finish().events)
        // Timestamps are the only thing that may differ between runs.
        return out.replacingOccurrences(of: #""created(_at)?":\d+"#, with: "\"created\":0", options: .regularExpression)
    }

    static let streams: [(String, Provider)] = [
        ("openai-chat-stream.sse", .openai), ("anthropic-stream.sse", .anthropic), ("gemini-stream.sse", .gemini),
    ]

    @Test(arguments: streams)
    func recordedStreamsTranslateTheSameAtEveryByteBoundary(fixture: String, provider: Provider) throws {
        let bytes = Array(try Fixture.data(fixture))
        for (clientFixture, dialect) in Self.clients where !provider.speaks(dialect) {
            var body = try Fixture.text(clientFixture)
            if dialect != .gemini {
                body = body.replacingOccurrences(of: #""model": "client-model","#, with: #""model": "client-model", "stream": true,"#)
            }
            let translator = try Self.translator(body, dialect, stream: true)
            func observer() -> any StreamObserver {
                translator.streamObserver(provider: provider, requestID: "req_fixture", clientWantsUsage: true)
            }
            var whole = observer()
            let expected = try Self.replay(bytes, splitAt: [], observer: &whole)
            #expect(whole.completed && whole.usage != nil, "\(fixture) → \(dialect)")
            #expect(!expected.isEmpty)
            for cut in 1..<bytes.count {
                var split = observer()
                let output = try Self.replay(bytes, splitAt: [cut], observer: &split)
                guard output == expected else {
                    Issue.record("\(fixture) → \(dialect) differs when split at byte \(cut)")
                    return
                }
                #expect(split.usage == whole.usage)
            }
        }
    }

    @Test func recordedStreamsKeepTheirUsageClassesAndToolCalls() throws {
        // Anthropic's counts: input excludes both cache classes.
        let anthropic = Array(try Fixture.data("anthropic-stream.sse"))
        let chat = try Self.translator(
            #"{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#, .openAIChat)
        var observer = chat.streamObserver(provider: .anthropic, requestID: "r", clientWantsUsage: true)
        let out = try Self.replay(anthropic, splitAt: [], observer: &observer)
        let usage = try #require(observer.usage)
        #expect(usage.inputUncached == 472 && usage.cacheRead == 10240 && usage.cacheWrite5m + usage.cacheWrite1h == 2048 && usage.output == 89)
        // The client sees every prompt token, the cached ones named as such.
        #expect(out.contains(#""prompt_tokens":12760"#) && out.contains(#""cached_tokens":10240"#))
        #expect(out.contains(#""name":"get_weather""#) && out.contains(#""finish_reason":"tool_calls""#))
        #expect(out.hasSuffix("data: [DONE]\n\n"))

        // Gemini's: the prompt includes cached tokens, thoughts are extra output.
        let gemini = Array(try Fixture.data("gemini-stream.sse"))
        let messages = try Self.translator(
            #"{"model":"m","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#, .anthropicMessages)
        var geminiObserver = messages.streamObserver(provider: .gemini, requestID: "r", clientWantsUsage: false)
        let text = try Self.replay(gemini, splitAt: [], observer: &geminiObserver)
        #expect(geminiObserver.usage == TokenUsage(inputUncached: 1024, cacheRead: 4096, output: 62, reasoning: 50))
        #expect(text.contains(#""cache_read_input_tokens":4096"#) && text.contains(#""input_tokens":1024"#))
        #expect(text.contains(#""stop_reason":"tool_use""#) && text.contains(#""partial_json":"{\"city\":\"Paris\"}""#))
        #expect(text.contains("ünïcode ✓"))
    }

    @Test func wholeAnswersMapStopReasonsAndCacheUsage() throws {
        let anthropicAnswer =
            #"{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[{"type":"text","text":"Done"}],"stop_reason":"max_tokens","stop_sequence":null,"usage":{"input_tokens":10,"cache_read_input_tokens":100,"cache_creation_input_tokens":30,"output_tokens":9}}"#
        let usage = TokenUsage(inputUncached: 10, cacheRead: 100, cacheWrite5m: 30, output: 9)
        let cases: [(Dialect, String, (NSDictionary) -> Bool)] = [
            (
                .openAIChat, #"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#,
                { json in
                    let choice = (json["choices"] as? [NSDictionary])?.first
                    let usage = json["usage"] as? NSDictionary
                    return choice?["finish_reason"] as? String == "length" && usage?["prompt_tokens"] as? Int == 140
                        && (usage?["prompt_tokens_details"] as? NSDictionary)?["cached_tokens"] as? Int == 100
                }
            ),
            (
                .openAIResponses, #"{"model":"m","input":"hi"}"#,
                { json in
                    json["status"] as? String == "incomplete"
                        && (json["incomplete_details"] as? NSDictionary)?["reason"] as? String == "max_output_tokens"
                        && (json["usage"] as? NSDictionary)?["input_tokens"] as? Int == 140
                }
            ),
            (
                .gemini, #"{"contents":[{"parts":[{"text":"hi"}]}]}"#,
                { json in
                    let candidate = (json["candidates"] as? [NSDictionary])?.first
                    let usage = json["usageMetadata"] as? NSDictionary
                    return candidate?["finishReason"] as? String == "MAX_TOKENS" && usage?["promptTokenCount"] as? Int == 140
                        && usage?["cachedContentTokenCount"] as? Int == 100
                }
            ),
        ]
        for (dialect, request, check) in cases {
            let translator = try Self.translator(request, dialect)
            let answer = try #require(
                translator.clientBody(fromUpstream: ByteBuffer(string: anthropicAnswer), provider: .anthropic, usage: usage, requestID: "r"))
            #expect(check(try Self.object(String(buffer: answer))), "\(dialect): \(String(buffer: answer))")
        }
        // And back: OpenAI's prompt count includes the cached tokens; Anthropic clients see them apart.
        let chatAnswer =
            #"{"id":"c","object":"chat.completion","created":1,"model":"gpt","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":121,"completion_tokens":9,"total_tokens":130,"prompt_tokens_details":{"cached_tokens":100}}}"#
        let messages = try Self.translator(#"{"model":"m","max_tokens":9,"messages":[{"role":"user","content":"hi"}]}"#, .anthropicMessages)
        let chatUsage = TokenUsage(inputUncached: 21, cacheRead: 100, output: 9)
        let answer = try Self.object(
            String(
                buffer: try #require(
                    messages.clientBody(fromUpstream: ByteBuffer(string: chatAnswer), provider: .openai, usage: chatUsage, requestID: "r"))))
        let answerUsage = try #require(answer["usage"] as? NSDictionary)
        #expect(
            answerUsage["input_tokens"] as? Int == 21 && answerUsage["cache_read_input_tokens"] as? Int == 100
                && answer["stop_reason"] as? String == "end_turn")
    }

    @Test func whatCannotBeCarriedIsRefusedNamingIt() throws {
        let refusals: [(Dialect, String, Provider, String)] = [
            (.openAIChat, #"{"model":"m","messages":[{"role":"user","content":"hi"}],"logprobs":true}"#, .anthropic, "logprobs"),
            (.openAIChat, #"{"model":"m","n":2,"messages":[{"role":"user","content":"hi"}]}"#, .anthropic, "n"),
            (.openAIChat, #"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":1.5}"#, .anthropic, "temperature"),
            (.openAIChat, #"{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]}"#, .gemini, "messages"),
            (
                .openAIChat, #"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/cat.png"}}]}]}"#,
                .gemini, "messages"
            ),
            (.anthropicMessages, #"{"model":"m","max_tokens":5,"top_k":5,"messages":[{"role":"user","content":"hi"}]}"#, .openai, "top_k"),
            (
                .anthropicMessages,
                #"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"web_search_20250305","name":"web_search"}]}"#,
                .openai, "tools"
            ),
            (
                .anthropicMessages, #"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","source":{}}]}]}"#,
                .gemini, "messages"
            ),
            (.openAIResponses, #"{"model":"m","previous_response_id":"resp_1","input":"hi"}"#, .anthropic, "previous_response_id"),
            (.openAIResponses, #"{"model":"m","input":"hi","tools":[{"type":"web_search"}]}"#, .anthropic, "tools"),
            (.gemini, #"{"contents":[{"parts":[{"text":"hi"}]}],"tools":[{"googleSearch":{}}]}"#, .openai, "tools"),
            (
                .gemini, #"{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"responseMimeType":"text/x.enum"}}"#, .openai,
                "generationConfig.responseMimeType"
            ),
            (
                .gemini, #"{"contents":[{"parts":[{"text":"hi"}]}],"generation_config":{"response_modalities":["TEXT","IMAGE"]}}"#, .anthropic,
                "generationConfig.responseModalities"
            ),
            // Anthropic has no JSON mode without a schema, and closes every object.
            (
                .openAIChat, #"{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_object"}}"#, .anthropic,
                "response_format"
            ),
            (
                .openAIResponses,
                #"{"model":"m","input":"hi","text":{"format":{"type":"json_schema","name":"n","schema":{"type":"object","additionalProperties":true}}}}"#,
                .anthropic, "text.format"
            ),
            (
                .openAIChat, #"{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"grammar"}}"#, .gemini,
                "response_format.type"
            ),
        ]
        for (dialect, body, provider, param) in refusals {
            do {
                let translator = try Self.translator(body, dialect)
                _ = try translator.upstreamBody(for: provider, model: "m")
                Issue.record("\(dialect) → \(provider) carried \(param)")
            } catch let error as GatewayError {
                #expect(error.status == 400 && error.param == param, "\(dialect) → \(provider): \(error.message)")
                #expect(error.message.contains("cannot be translated") || error.message.contains("not"), "\(error.message)")
            } catch {
                Issue.record("\(error)")
            }
        }
    }

    static func body(_ translator: Translator, _ provider: Provider) throws -> NSDictionary {
        try object(String(buffer: try translator.upstreamBody(for: provider, model: "m")))
    }

    @Test func toolLoopsKeepCallsAndResultsPaired() throws {
        // Gemini pairs results to calls by name: two calls to one function are answered in order.
        let gemini = try Self.translator(
            #"{"contents":[{"role":"user","parts":[{"text":"read both"}]},{"role":"model","parts":[{"functionCall":{"name":"read","args":{"f":"a"}}},{"functionCall":{"name":"read","args":{"f":"b"}}}]},{"role":"user","parts":[{"functionResponse":{"name":"read","response":{"text":"A"}}},{"functionResponse":{"name":"read","response":{"text":"B"}}}]}]}"#,
            .gemini)
        let messages = try #require(try Self.body(gemini, .openai)["messages"] as? [NSDictionary])
        let tools = messages.filter { $0["role"] as? String == "tool" }
        #expect(tools.map { $0["tool_call_id"] as? String } == ["call_1", "call_2"])
        #expect(tools.map { $0["content"] as? String } == [#"{"text":"A"}"#, #"{"text":"B"}"#])

        // Gemini answers name no call ids: each answer's ids are its own, so turns never share one.
        let chat = try Self.translator(#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#, .openAIChat)
        let answer = #"{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"read","args":{}}}]},"finishReason":"STOP"}]}"#
        let first = try Self.object(
            String(
                buffer: try #require(chat.clientBody(fromUpstream: ByteBuffer(string: answer), provider: .gemini, usage: .zero, requestID: "req_a"))))
        let second = try Self.object(
            String(
                buffer: try #require(chat.clientBody(fromUpstream: ByteBuffer(string: answer), provider: .gemini, usage: .zero, requestID: "req_b"))))
        func callID(_ json: NSDictionary) -> String? {
            (((json["choices"] as? [NSDictionary])?.first?["message"] as? NSDictionary)?["tool_calls"] as? [NSDictionary])?.first?["id"] as? String
        }
        #expect(callID(first) != nil && callID(first) != callID(second))

        // A tool result with an image (Claude Code's Read of a PNG) reaches OpenAI and Gemini.
        let withImage = try Self.translator(
            #"{"model":"m","max_tokens":64,"messages":[{"role":"user","content":"look"},{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"read","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"a cat"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBO"}}]}]}]}"#,
            .anthropicMessages)
        let openAI = try #require(try Self.body(withImage, .openai)["messages"] as? [NSDictionary])
        #expect(openAI[2]["role"] as? String == "tool" && openAI[2]["content"] as? String == "a cat")
        let after = try #require(openAI[3]["content"] as? [NSDictionary])
        #expect(
            openAI[3]["role"] as? String == "user" && (after.last?["image_url"] as? NSDictionary)?["url"] as? String == "data:image/png;base64,iVBO")
        let contents = try #require(try Self.body(withImage, .gemini)["contents"] as? [NSDictionary])
        let parts = try #require(contents.last?["parts"] as? [NSDictionary])
        #expect(parts.first?["functionResponse"] != nil && (parts.last?["inlineData"] as? NSDictionary)?["data"] as? String == "iVBO")
    }

    @Test func anthropicThinkingSurvivesARoundTripThroughResponses() throws {
        // A Claude answer with signed thinking, given to a Responses client (Codex)…
        let responses = try Self.translator(#"{"model":"m","input":"hi","reasoning":{"effort":"high"}}"#, .openAIResponses)
        let claude =
            #"{"type":"message","role":"assistant","content":[{"type":"thinking","thinking":"Let me think.","signature":"sig123"},{"type":"tool_use","id":"t1","name":"ls","input":{}}],"stop_reason":"tool_use","usage":{"input_tokens":1,"output_tokens":1}}"#
        let answer = try Self.object(
            String(
                buffer: try #require(
                    responses.clientBody(fromUpstream: ByteBuffer(string: claude), provider: .anthropic, usage: .zero, requestID: "r"))))
        let items = try #require(answer["output"] as? [NSDictionary])
        let reasoning = try #require(items.first)
        #expect(reasoning["type"] as? String == "reasoning")
        // …comes back with the call's output, and Anthropic gets its own signed thinking again.
        let input = try JSONSerialization.data(withJSONObject: [
            "model": "m", "reasoning": ["effort": "high"],
            "input": [
                ["role": "user", "content": "hi"], reasoning, items[1], ["type": "function_call_output", "call_id": "t1", "output": "file.txt"],
            ],
        ])
        let followUp = try Self.translator(String(decoding: input, as: UTF8.self), .openAIResponses)
        let sent = try Self.body(followUp, .anthropic)
        let assistant = try #require((sent["messages"] as? [NSDictionary])?[1]["content"] as? [NSDictionary])
        #expect(assistant.first?["type"] as? String == "thinking" && assistant.first?["signature"] as? String == "sig123")
        #expect(sent["thinking"] != nil, "thinking stays on: the tool turn starts with Anthropic's own signed thinking")

        // Reasoning from elsewhere has no signature: that continuation goes without thinking.
        let chat = try Self.translator(
            #"{"model":"m","reasoning_effort":"high","temperature":0,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"ls","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"x"}]}"#,
            .openAIChat)
        let unsigned = try Self.body(chat, .anthropic)
        #expect(unsigned["thinking"] == nil && unsigned["temperature"] as? Int == 0)
    }

    @Test func anthropicGetsOnlySettingsItAccepts() throws {
        // With thinking on, no sampling settings; a huge budget is capped, not overflowed.
        let thinking = try Self.translator(
            #"{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"temperature":0,"topP":1,"maxOutputTokens":1000,"thinkingConfig":{"thinkingBudget":9223372036854775807}}}"#,
            .gemini)
        let body = try Self.body(thinking, .anthropic)
        let budget = try #require((body["thinking"] as? NSDictionary)?["budget_tokens"] as? Int)
        #expect(budget == 10_000_000 && (body["max_tokens"] as? Int ?? 0) > budget)
        #expect(body["temperature"] == nil && body["top_p"] == nil)
        // A small budget is raised to Anthropic's minimum, and max_tokens stays above it.
        let small = try Self.body(
            try Self.translator(
                #"{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"maxOutputTokens":1000,"thinkingConfig":{"thinkingBudget":512}}}"#,
                .gemini), .anthropic)
        #expect((small["thinking"] as? NSDictionary)?["budget_tokens"] as? Int == 1_024 && (small["max_tokens"] as? Int ?? 0) > 1_024)
        // Without thinking, temperature or top_p, not both.
        let both = try Self.body(
            try Self.translator(#"{"model":"m","temperature":0.2,"top_p":0.9,"messages":[{"role":"user","content":"hi"}]}"#, .openAIChat), .anthropic)
        #expect(both["temperature"] as? Double == 0.2 && both["top_p"] == nil)
    }

    @Test func claudeCodesOwnFieldsAreCarriedOrLeftWhereTheyHaveNoCounterpart() throws {
        // Claude Code always sends context_management and output_config, and adds system messages mid-conversation.
        let claudeCode = try Self.translator(
            #"{"model":"m","max_tokens":32000,"stream":true,"thinking":{"type":"adaptive"},"output_config":{"effort":"max"},"context_management":{"edits":[{"type":"clear_tool_uses_20250919"}]},"system":[{"type":"text","text":"You are Claude Code."}],"messages":[{"role":"user","content":"hi"},{"role":"system","content":"The user switched to plan mode."},{"role":"assistant","content":"ok"},{"role":"user","content":"go"}]}"#,
            .anthropicMessages)
        let chat = try Self.body(claudeCode, .openai)
        #expect(chat["reasoning_effort"] as? String == "high")
        let messages = try #require(chat["messages"] as? [NSDictionary])
        #expect(messages.first?["content"] as? String == "You are Claude Code.\n\nThe user switched to plan mode.")
        #expect(messages.dropFirst().map { $0["role"] as? String } == ["user", "assistant", "user"])
        let gemini = try Self.body(claudeCode, .gemini)
        #expect(((gemini["generationConfig"] as? NSDictionary)?["thinkingConfig"] as? NSDictionary)?["thinkingBudget"] as? Int == 24_576)
        do {
            _ = try Self.translator(
                #"{"model":"m","max_tokens":5,"output_config":{"format":{"type":"json_schema"}},"messages":[{"role":"user","content":"hi"}]}"#,
                .anthropicMessages)
            Issue.record("a structured output format without its schema was carried")
        } catch let error as GatewayError {
            #expect(error.param == "output_config.format.schema")
        }
    }

    @Test func interleavedParallelToolCallsKeepTheirOwnArguments() throws {
        func chunk(_ calls: String, finish: String = "null") -> String {
            #"data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":\#(calls)},"finish_reason":\#(finish)}]}"#
                + "\n\n"
        }
        let stream =
            chunk(
                #"[{"index":0,"id":"call_a","type":"function","function":{"name":"f","arguments":""}},{"index":1,"id":"call_b","type":"function","function":{"name":"g","arguments":""}}]"#
            )
            + chunk(#"[{"index":0,"function":{"arguments":"{\"x\":"}}]"#)
            + chunk(#"[{"index":1,"function":{"arguments":"{\"y\":2}"}}]"#)
            + chunk(#"[{"index":0,"function":{"arguments":"1}"}}]"#)
            + #"data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#
            + "\n\n"
            + #"data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}"#
            + "\n\ndata: [DONE]\n\n"
        let bytes = Array(stream.utf8)

        let responses = try Self.translator(#"{"model":"m","stream":true,"input":"hi"}"#, .openAIResponses)
        var observer = responses.streamObserver(provider: .openai, requestID: "r", clientWantsUsage: false)
        let events = TranslationMatrixTests.events(try Self.replay(bytes, splitAt: [], observer: &observer))
        let items = (events.last?.data["response"] as? [String: Any])?["output"] as? [[String: Any]] ?? []
        #expect(items.map { $0["arguments"] as? String } == [#"{"x":1}"#, #"{"y":2}"#])
        let indexes = events.filter { $0.name == "response.output_item.added" }.compactMap { $0.data["output_index"] as? Int }
        #expect(indexes == [0, 1], "each item has its own output index")

        let messages = try Self.translator(
            #"{"model":"m","max_tokens":9,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#, .anthropicMessages)
        var anthropic = messages.streamObserver(provider: .openai, requestID: "r", clientWantsUsage: false)
        var arguments: [Int: String] = [:]
        for (name, data) in TranslationMatrixTests.events(try Self.replay(bytes, splitAt: [], observer: &anthropic))
        where name == "content_block_delta" {
            arguments[data["index"] as? Int ?? -1, default: ""] += (data["delta"] as? [String: Any])?["partial_json"] as? String ?? ""
        }
        #expect(arguments == [0: #"{"x":1}"#, 1: #"{"y":2}"#])
    }

    @Test func aGeminiStreamBlockedBySafetyEndsAsAContentFilterStop() throws {
        let blocked = Array(
            "data: {\"promptFeedback\":{\"blockReason\":\"SAFETY\"},\"usageMetadata\":{\"promptTokenCount\":7,\"totalTokenCount\":7}}\r\n\r\n".utf8)
        let chat = try Self.translator(#"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#, .openAIChat)
        var observer = chat.streamObserver(provider: .gemini, requestID: "r", clientWantsUsage: false)
        let out = try Self.replay(blocked, splitAt: [], observer: &observer)
        #expect(observer.completed && out.contains(#""finish_reason":"content_filter""#) && out.hasSuffix("data: [DONE]\n\n"))
    }

    @Test func reasoningMapsBetweenEffortAndBudget() throws {
        let effort = try Self.translator(
            #"{"model":"m","reasoning_effort":"high","max_completion_tokens":1000,"messages":[{"role":"user","content":"hi"}]}"#, .openAIChat)
        let anthropic = try Self.object(String(buffer: try effort.upstreamBody(for: .anthropic, model: "claude")))
        #expect((anthropic["thinking"] as? NSDictionary)?["budget_tokens"] as? Int == 24_576)
        #expect(anthropic["max_tokens"] as? Int == 25_576, "max_tokens must exceed the thinking budget")
        let gemini = try Self.object(String(buffer: try effort.upstreamBody(for: .gemini, model: "gemini")))
        #expect(((gemini["generationConfig"] as? NSDictionary)?["thinkingConfig"] as? NSDictionary)?["thinkingBudget"] as? Int == 24_576)
        let budget = try Self.translator(
            #"{"model":"m","max_tokens":4000,"thinking":{"type":"enabled","budget_tokens":2000},"messages":[{"role":"user","content":"hi"}]}"#,
            .anthropicMessages)
        let chat = try Self.object(String(buffer: try budget.upstreamBody(for: .openai, model: "o3")))
        #expect(chat["reasoning_effort"] as? String == "low")
    }
}
