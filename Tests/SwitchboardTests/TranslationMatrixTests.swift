import Foundation
import NIOHTTP1
import Storage
import SwitchboardApp
import SwitchboardCore
import SwitchboardTesting
import Testing

/// Every client dialect against every provider kind on the fake upstream, JSON
/// and streamed, text and tool calls: what the client reads back, in its own
/// format, and what the ledger bills.
@Suite struct TranslationMatrixTests {
    enum Client: String, CaseIterable, Sendable { case chat, messages, responses, gemini }

    /// The model each provider's account serves.
    static let models = ["openai": "gpt-4o-mini", "anthropic": "claude-sonnet-4-5", "gemini": "gemini-2.5-flash"]

    static func accounts(_ port: Int) -> [Configuration.AccountDeclaration] {
        Harness.defaultAccounts(fakePort: port) + [Harness.geminiAccount(fakePort: port)]
    }

    static let cells: [(Client, String)] = Client.allCases.flatMap { client in ["openai", "anthropic", "gemini"].map { (client, $0) } }

    /// The path and body a client of this dialect sends.
    static func request(_ client: Client, model: String, stream: Bool, tools: Bool) -> (String, String) {
        switch client {
        case .chat:
            let tool =
                #","tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]"#
            return (
                "/v1/chat/completions",
                #"{"model":"\#(model)","stream":\#(stream),"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}]\#(tools ? tool : "")}"#
            )
        case .messages:
            let tool =
                #","tools":[{"name":"get_weather","description":"Weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}]"#
            return (
                "/v1/messages",
                #"{"model":"\#(model)","max_tokens":256,"stream":\#(stream),"system":[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"hi"}]\#(tools ? tool : "")}"#
            )
        case .responses:
            let tool = #","tools":[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}]"#
            return (
                "/v1/responses",
                #"{"model":"\#(model)","stream":\#(stream),"instructions":"Be brief.","input":[{"role":"user","content":[{"type":"input_text","text":"hi"}]}]\#(tools ? tool : "")}"#
            )
        case .gemini:
            let tool =
                #","tools":[{"functionDeclarations":[{"name":"get_weather","parameters":{"type":"OBJECT","properties":{"city":{"type":"STRING"}}}}]}]"#
            let method = stream ? "streamGenerateContent?alt=sse" : "generateContent"
            return (
                "/v1beta/models/\(model):\(method)",
                #"{"systemInstruction":{"parts":[{"text":"Be brief."}]},"contents":[{"role":"user","parts":[{"text":"hi"}]}]\#(tools ? tool : "")}"#
            )
        }
    }

    /// What a client read: the text, and the tool call if any.
    struct Read: Equatable {
        var text = ""
        var toolName: String?
        var arguments: [String: String] = [:]
    }

    static func events(_ body: String) -> [(name: String?, data: [String: Any])] {
        body.replacingOccurrences(of: "\r\n", with: "\n").components(separatedBy: "\n\n").compactMap { frame in
            var name: String?
            var data = ""
            for line in frame.components(separatedBy: "\n") {
                if line.hasPrefix("event: ") { name = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { data += line.dropFirst(6) }
            }
            guard let json = try? JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any] else { return nil }
            return (name, json)
        }
    }

    static func arguments(_ text: String?) -> [String: String] {
        ((try? JSONSerialization.jsonObject(with: Data((text ?? "").utf8))) as? [String: String]) ?? [:]
    }

    static func read(_ client: Client, body: String, stream: Bool) throws -> Read {
        var read = Read()
        let json = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
        switch (client, stream) {
        case (.chat, false):
            let message = try #require(((json["choices"] as? [[String: Any]])?.first)?["message"] as? [String: Any])
            read.text = message["content"] as? String ?? ""
            if let call = (message["tool_calls"] as? [[String: Any]])?.first, let function = call["function"] as? [String: Any] {
                read.toolName = function["name"] as? String
                read.arguments = arguments(function["arguments"] as? String)
            }
        case (.chat, true):
            #expect(body.hasSuffix("data: [DONE]\n\n"))
            var args = ""
            for (_, data) in events(body) {
                guard let delta = ((data["choices"] as? [[String: Any]])?.first)?["delta"] as? [String: Any] else { continue }
                read.text += delta["content"] as? String ?? ""
                for call in delta["tool_calls"] as? [[String: Any]] ?? [] {
                    let function = call["function"] as? [String: Any]
                    if let name = function?["name"] as? String { read.toolName = name }
                    args += function?["arguments"] as? String ?? ""
                }
            }
            read.arguments = arguments(args)
        case (.messages, false):
            for block in json["content"] as? [[String: Any]] ?? [] {
                if block["type"] as? String == "text" { read.text += block["text"] as? String ?? "" }
                if block["type"] as? String == "tool_use" {
                    read.toolName = block["name"] as? String
                    read.arguments = block["input"] as? [String: String] ?? [:]
                }
            }
        case (.messages, true):
            let all = events(body)
            #expect(all.first?.name == "message_start" && all.last?.name == "message_stop")
            #expect(all.allSatisfy { $0.name != nil }, "the anthropic SDK skips frames without an event line")
            var args = ""
            for (name, data) in all {
                if name == "content_block_start", let block = data["content_block"] as? [String: Any], block["type"] as? String == "tool_use" {
                    read.toolName = block["name"] as? String
                }
                if name == "content_block_delta", let delta = data["delta"] as? [String: Any] {
                    read.text += delta["text"] as? String ?? ""
                    args += delta["partial_json"] as? String ?? ""
                }
            }
            read.arguments = arguments(args)
        case (.responses, false):
            for item in json["output"] as? [[String: Any]] ?? [] {
                if item["type"] as? String == "message" {
                    read.text += (item["content"] as? [[String: Any]])?.compactMap { $0["text"] as? String }.joined() ?? ""
                }
                if item["type"] as? String == "function_call" {
                    read.toolName = item["name"] as? String
                    read.arguments = arguments(item["arguments"] as? String)
                }
            }
        case (.responses, true):
            let all = events(body)
            #expect(all.first?.name == "response.created" && all.last?.name == "response.completed")
            #expect(all.enumerated().allSatisfy { $0.element.data["sequence_number"] as? Int == $0.offset }, "numbered in order")
            var args = ""
            for (name, data) in all {
                if name == "response.output_text.delta" { read.text += data["delta"] as? String ?? "" }
                if name == "response.function_call_arguments.delta" { args += data["delta"] as? String ?? "" }
                if name == "response.output_item.done", let item = data["item"] as? [String: Any], item["type"] as? String == "function_call" {
                    read.toolName = item["name"] as? String
                    #expect(arguments(item["arguments"] as? String) == arguments(args))
                }
            }
            read.arguments = arguments(args)
        case (.gemini, _):
            let chunks = stream ? events(body).map(\.data) : [json]
            if stream {
                #expect(!body.components(separatedBy: "\n").contains { $0.hasPrefix(":") }, "no comments in Gemini streams")
            }
            for chunk in chunks {
                let parts = (((chunk["candidates"] as? [[String: Any]])?.first)?["content"] as? [String: Any])?["parts"] as? [[String: Any]] ?? []
                for part in parts {
                    read.text += part["text"] as? String ?? ""
                    if let call = part["functionCall"] as? [String: Any] {
                        read.toolName = call["name"] as? String
                        read.arguments = call["args"] as? [String: String] ?? [:]
                    }
                }
            }
        }
        return read
    }

    @Test(arguments: cells)
    func textAndToolCallsArriveInTheClientsFormatAndUsageIsBilled(client: Client, provider: String) async throws {
        let model = try #require(Self.models[provider])
        try await withHarness(accounts: Self.accounts) { harness in
            for stream in [false, true] {
                for tools in [false, true] {
                    let (path, body) = Self.request(client, model: model, stream: stream, tools: tools)
                    let reply = try await harness.send(path, body: body, auth: client == .gemini ? .googAPIKey : .bearer)
                    #expect(reply.status == 200, "\(client) → \(provider) stream=\(stream) tools=\(tools): \(reply.body)")
                    let read = try Self.read(client, body: reply.body, stream: stream)
                    if tools {
                        #expect(
                            read.toolName == "get_weather" && read.arguments == ["city": "Paris"],
                            "\(client) → \(provider) stream=\(stream): \(reply.body)")
                    } else {
                        #expect(read.text == FakeUsage.text && read.toolName == nil, "\(client) → \(provider) stream=\(stream): \(reply.body)")
                    }
                    let row = try await harness.row(reply.headers.first(name: "x-request-id"))
                    #expect(row.outcome == .ok && row.provider == provider && !row.usageIncomplete, "\(client) → \(provider) stream=\(stream)")
                    #expect(row.usage.output == FakeUsage.output && row.usage.totalInput == FakeUsage.prompt)
                    // The upstream got a request in its own format.
                    let sent = try #require(harness.fake.received.last)
                    let native = client == .responses && provider == "openai" ? "/v1/responses" : nil
                    let expectedPath =
                        native ?? ["openai": "/v1/chat/completions", "anthropic": "/v1/messages"][provider]
                        ?? "/v1beta/models/\(model):\(stream ? "streamGenerateContent" : "generateContent")"
                    #expect(sent.path == expectedPath)
                }
            }
        }
    }
}

/// Codex CLI's own request shape (`wire_api = "responses"`, always streaming) on
/// models served by Anthropic and Gemini accounts.
@Suite struct CodexShapeTests {
    static let body = #"""
        {"model":"MODEL","instructions":"You are Codex.","input":[{"type":"message","role":"developer","content":[{"type":"input_text","text":"<permissions>"}]},{"type":"message","role":"user","content":[{"type":"input_text","text":"fix the bug"}]}],
         "tools":[{"type":"custom","name":"apply_patch","description":"Apply a patch","format":{"type":"grammar","syntax":"lark","definition":"start: /.+/"}},{"type":"function","name":"shell","description":"Run a command","strict":false,"parameters":{"type":"object","properties":{"command":{"type":"array","items":{"type":"string"}}},"required":["command"]}}],
         "tool_choice":"auto","parallel_tool_calls":false,"reasoning":{"effort":"medium","summary":"auto"},"store":false,"stream":true,
         "include":["reasoning.encrypted_content"],"prompt_cache_key":"thread-1","text":{"verbosity":"low"}}
        """#

    @Test(arguments: ["claude-sonnet-4-5", "gemini-2.5-flash"])
    func codexGetsItsEventsAndACustomToolCall(model: String) async throws {
        try await withHarness(accounts: TranslationMatrixTests.accounts) { harness in
            let reply = try await harness.send(
                "/v1/responses", body: Self.body.replacingOccurrences(of: "MODEL", with: model),
                headers: [("originator", "codex_cli_rs"), ("session_id", "thread-1")])
            #expect(reply.status == 200, "\(reply.body)")
            let events = TranslationMatrixTests.events(reply.body)
            #expect(events.first?.name == "response.created" && events.last?.name == "response.completed")
            let done = events.filter { $0.name == "response.output_item.done" }.compactMap { $0.data["item"] as? [String: Any] }
            let call = try #require(done.first { $0["type"] as? String == "custom_tool_call" })
            #expect(call["name"] as? String == "apply_patch" && call["call_id"] as? String != nil && call["input"] is String)
            let completed = try #require(events.last?.data["response"] as? [String: Any])
            #expect((completed["output"] as? [[String: Any]])?.count == done.count, "the final response lists every item")
            #expect((completed["usage"] as? [String: Any])?["output_tokens"] as? Int == Int(FakeUsage.output))
            // What went upstream: the system prompt from instructions and the developer message, both tools as functions.
            let sent = try #require(harness.fake.received.last)
            #expect(sent.rawBody.contains("You are Codex.") && sent.rawBody.contains("<permissions>"))
            #expect(sent.rawBody.contains("apply_patch") && sent.rawBody.contains("shell"))
            #expect(!sent.rawBody.contains("prompt_cache_key") && !sent.rawBody.contains("encrypted_content"))
        }
    }
}
