import Dialects
import NIOCore
import SwitchboardCore
import Testing

@Suite struct ClientRequestTests {
    func inspect(_ text: String, _ dialect: Dialect = .openAIChat) throws(GatewayError) -> ClientRequest {
        try ClientRequest.inspect(ByteBuffer(string: text), dialect: dialect)
    }

    @Test func readsTheFieldsTheGatewayDecidesOn() throws {
        let request = try inspect(#"{"model":"gpt-4o-mini","stream":true,"max_tokens":50,"messages":[]}"#)
        #expect(request.model == "gpt-4o-mini")
        #expect(request.stream)
        #expect(request.maxTokens == 50)
        #expect(!request.clientWantsUsage)
    }

    @Test func malformedAndMissingModelAreDistinctErrors() {
        #expect(throws: GatewayError(.invalidJSON, message: "The request body is not valid JSON (unexpected end of input at byte 9).")) {
            _ = try inspect(#"{"model":"#)
        }
        #expect { _ = try inspect(#"{"messages":[]}"#) } throws: { ($0 as? GatewayError)?.code == .missingModel }
        #expect { _ = try inspect(#"{"model":""}"#) } throws: { ($0 as? GatewayError)?.code == .missingModel }
        #expect { _ = try inspect(#"{"model":5}"#) } throws: { ($0 as? GatewayError)?.code == .missingModel }
        #expect { _ = try inspect(#"[1]"#) } throws: { ($0 as? GatewayError)?.code == .invalidRequest }
        #expect { _ = try inspect("") } throws: { ($0 as? GatewayError)?.code == .invalidJSON }
    }

    @Test func passesTheBodyThroughUntouchedWhenNothingChanges() throws {
        let text = #"{ "system" : "keep  my   spacing", "model":"claude-sonnet-4-5","stream":true ,"messages":[{"role":"user","content":"hi"}]}"#
        let request = try inspect(text, .anthropicMessages)
        #expect(String(buffer: request.upstreamBody(model: "claude-sonnet-4-5")) == text)
    }

    @Test func renamesOnlyTheModel() throws {
        let text = #"{"model":"alias","system":"x","messages":[]}"#
        let body = try inspect(text, .anthropicMessages).upstreamBody(model: "claude-\"real\"")
        #expect(String(buffer: body) == #"{"model":"claude-\"real\"","system":"x","messages":[]}"#)
    }

    @Test(arguments: [
        (#"{"model":"m","stream":true}"#, #"{"model":"m","stream":true,"stream_options":{"include_usage":true}}"#, false),
        (#"{"model":"m","stream":true,"stream_options":null}"#, #"{"model":"m","stream":true,"stream_options":{"include_usage":true}}"#, false),
        (#"{"model":"m","stream":true,"stream_options":{}}"#, #"{"model":"m","stream":true,"stream_options":{"include_usage":true}}"#, false),
        (
            #"{"model":"m","stream":true,"stream_options":{"x":1}}"#, #"{"model":"m","stream":true,"stream_options":{"include_usage":true,"x":1}}"#,
            false
        ),
        (
            #"{"model":"m","stream":true,"stream_options":{"include_usage":false}}"#,
            #"{"model":"m","stream":true,"stream_options":{"include_usage":true}}"#, false
        ),
        (
            #"{"model":"m","stream":true,"stream_options":{"include_usage":true}}"#,
            #"{"model":"m","stream":true,"stream_options":{"include_usage":true}}"#, true
        ),
        (#"{"model":"m","stream":false}"#, #"{"model":"m","stream":false}"#, false),
    ])
    func asksOpenAIStreamsForUsage(input: String, expected: String, clientAsked: Bool) throws {
        let request = try inspect(input)
        #expect(String(buffer: request.upstreamBody(model: "m")) == expected)
        #expect(request.clientWantsUsage == clientAsked)
    }

    @Test func anthropicStreamsAreNotGivenStreamOptions() throws {
        let text = #"{"model":"m","stream":true}"#
        #expect(String(buffer: try inspect(text, .anthropicMessages).upstreamBody(model: "m")) == text)
    }
}
