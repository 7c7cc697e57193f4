import Foundation
import NIOCore
import NIOFoundationEssentialsCompat
import SwitchboardCore
import Testing

@testable import Dialects

/// Google takes every field in either spelling, and its clients send both:
/// translation must read them the same, and leave the client's own names
/// (schema properties, arguments) alone. Tool results cross formats unwrapped.
@Suite struct GeminiSpellingTests {
    static func upstream(_ body: String, _ dialect: Dialect, to provider: Provider) throws -> NSDictionary {
        let request = try ClientRequest.inspect(ByteBuffer(string: body), dialect: dialect, pathModel: "client-model", pathStream: false)
        let translated = try Translator(request).upstreamBody(for: provider, model: "m")
        return try #require(try JSONSerialization.jsonObject(with: Data(buffer: translated)) as? NSDictionary)
    }

    /// One request, as google-genai and LangChain write it (snake_case) and as the REST docs do (camelCase).
    static let snake = #"""
        {"system_instruction":{"parts":[{"text":"be brief"}]},
         "contents":[
           {"role":"user","parts":[{"text":"weather?"}]},
           {"role":"model","parts":[{"function_call":{"name":"get_weather","args":{"city_name":"Paris"}}},{"function_call":{"name":"get_alerts","args":{}}}]},
           {"role":"user","parts":[{"function_response":{"name":"get_weather","response":{"output":"sunny"}}},{"function_response":{"name":"get_alerts","response":{"error":"service down"}}}]}],
         "tools":[{"function_declarations":[{"name":"get_weather","description":"d","parameters_json_schema":{"type":"object","properties":{"city_name":{"type":"string"}},"required":["city_name"]}},
                                             {"name":"get_alerts","parameters":{"type":"OBJECT","properties":{"max_count":{"type":"INTEGER"}},"property_ordering":["max_count"]}}]}],
         "tool_config":{"function_calling_config":{"mode":"ANY","allowed_function_names":["get_weather"]}},
         "generation_config":{"max_output_tokens":77,"stop_sequences":["END"],"response_modalities":["TEXT"],"thinking_config":{"thinking_budget":0}}}
        """#
    static let camel = #"""
        {"systemInstruction":{"parts":[{"text":"be brief"}]},
         "contents":[
           {"role":"user","parts":[{"text":"weather?"}]},
           {"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city_name":"Paris"}}},{"functionCall":{"name":"get_alerts","args":{}}}]},
           {"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"output":"sunny"}}},{"functionResponse":{"name":"get_alerts","response":{"error":"service down"}}}]}],
         "tools":[{"functionDeclarations":[{"name":"get_weather","description":"d","parametersJsonSchema":{"type":"object","properties":{"city_name":{"type":"string"}},"required":["city_name"]}},
                                            {"name":"get_alerts","parameters":{"type":"OBJECT","properties":{"max_count":{"type":"INTEGER"}},"propertyOrdering":["max_count"]}}]}],
         "toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["get_weather"]}},
         "generationConfig":{"maxOutputTokens":77,"stopSequences":["END"],"responseModalities":["TEXT"],"thinkingConfig":{"thinkingBudget":0}}}
        """#

    @Test func bothSpellingsTranslateAlikeAndTheClientsNamesStay() throws {
        for provider in [Provider.anthropic, .openai] {
            #expect(try Self.upstream(Self.snake, .gemini, to: provider) == Self.upstream(Self.camel, .gemini, to: provider), "\(provider)")
        }
        let anthropic = try Self.upstream(Self.snake, .gemini, to: .anthropic)
        #expect(anthropic["max_tokens"] as? Int == 77 && anthropic["stop_sequences"] as? [String] == ["END"])
        #expect((anthropic["system"] as? [NSDictionary])?.first?["text"] as? String == "be brief")
        #expect((anthropic["tool_choice"] as? NSDictionary)?["name"] as? String == "get_weather", "allowed_function_names read")
        let tools = try #require(anthropic["tools"] as? [NSDictionary])
        let weather = try #require(tools.first?["input_schema"] as? NSDictionary)
        #expect((weather["properties"] as? NSDictionary)?["city_name"] != nil, "the schema arrives, its property names as written")
        let alerts = try #require(tools.last?["input_schema"] as? NSDictionary)
        #expect(((alerts["properties"] as? NSDictionary)?["max_count"] as? NSDictionary)?["type"] as? String == "integer")
        #expect(alerts["propertyOrdering"] == nil && alerts["property_ordering"] == nil, "Google's own keyword stays behind")
        let messages = try #require(anthropic["messages"] as? [NSDictionary])
        let call = try #require((messages[1]["content"] as? [NSDictionary])?.first)
        #expect((call["input"] as? NSDictionary)?["city_name"] as? String == "Paris", "arguments untouched")
        let results = try #require(messages[2]["content"] as? [NSDictionary])
        #expect(((results[0]["content"] as? [NSDictionary])?.first?["text"] as? String) == "sunny" && results[0]["is_error"] == nil)
        #expect(((results[1]["content"] as? [NSDictionary])?.first?["text"] as? String) == "service down" && results[1]["is_error"] as? Bool == true)

        let openAI = try Self.upstream(Self.snake, .gemini, to: .openai)
        let toolMessages = (openAI["messages"] as? [NSDictionary] ?? []).filter { $0["role"] as? String == "tool" }
        #expect(toolMessages.map { $0["content"] as? String } == ["sunny", "Error: service down"])
    }

    @Test func aPlainObjectResultIsCarriedAsJSON() throws {
        let body =
            #"{"contents":[{"role":"user","parts":[{"text":"x"}]},{"role":"model","parts":[{"functionCall":{"name":"f","args":{}}}]},{"role":"user","parts":[{"functionResponse":{"name":"f","response":{"temp":21,"unit":"C"}}},{"functionResponse":{"name":"f","response":{"output":{"temp":21}}}}]}]}"#
        let openAI = try Self.upstream(body, .gemini, to: .openai)
        let tool = (openAI["messages"] as? [NSDictionary] ?? []).filter { $0["role"] as? String == "tool" }
        #expect(tool.map { $0["content"] as? String } == [#"{"temp":21,"unit":"C"}"#, #"{"temp":21}"#])
    }

    /// The other way: results written for Gemini under the keys Google documents.
    @Test func resultsReachGeminiAsOutputOrError() throws {
        let body = #"""
            {"model":"m","max_tokens":9,"messages":[{"role":"user","content":"x"},
              {"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":{}},{"type":"tool_use","id":"t2","name":"g","input":{}},{"type":"tool_use","id":"t3","name":"h","input":{}}]},
              {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"sunny"},{"type":"tool_result","tool_use_id":"t2","content":"boom","is_error":true},{"type":"tool_result","tool_use_id":"t3","content":"{\"temp\":21}"}]}]}
            """#
        let gemini = try Self.upstream(body, .anthropicMessages, to: .gemini)
        let parts = try #require(((gemini["contents"] as? [NSDictionary])?.last?["parts"] as? [NSDictionary]))
        let responses = parts.compactMap { ($0["functionResponse"] as? NSDictionary)?["response"] as? NSDictionary }
        #expect(responses == [["output": "sunny"], ["error": "boom"], ["temp": 21]])
    }

    @Test func onlyTextCanBeAskedFor() throws {
        for modalities in [#"["TEXT"]"#, #"["text"]"#, "[]"] {
            let body = #"{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"responseModalities":\#(modalities)}}"#
            #expect(throws: Never.self) { try Self.upstream(body, .gemini, to: .openai) }
        }
        let body = #"{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"responseModalities":["TEXT","AUDIO"]}}"#
        #expect { try Self.upstream(body, .gemini, to: .openai) } throws: { error in
            (error as? GatewayError)?.param == "generationConfig.responseModalities" && (error as? GatewayError)?.status == 400
        }
    }

    @Test func camelCaseLeavesNamesWithoutUnderscoresAlone() {
        #expect(
            ["function_declarations", "parametersJsonSchema", "a", "x_y_z", "trailing_"].map { GeminiSpelling.camel($0) }
                == ["functionDeclarations", "parametersJsonSchema", "a", "xYZ", "trailing"])
    }

    /// Names the client gave inside a schema stay as written: definitions a
    /// `$ref` points to, patterns, enum values, examples.
    @Test func schemaNamesAndValuesAreNeverRenamed() throws {
        let body = #"""
            {"contents":[{"parts":[{"text":"x"}]}],"tools":[{"function_declarations":[{"name":"order","parameters":{
              "type":"OBJECT","$defs":{"order_item":{"type":"OBJECT","properties":{"sku_code":{"type":"STRING","enum":["A_B","TYPE"]}}}},
              "properties":{"items":{"type":"ARRAY","items":{"$ref":"#/$defs/order_item"}},"note":{"type":"STRING","example":{"type":"STRING"}}},
              "patternProperties":{"^user_[0-9]+$":{"type":"STRING"}},"property_ordering":["items","note"]}}]}]}
            """#
        let openAI = try Self.upstream(body, .gemini, to: .openai)
        let tool = try #require((openAI["tools"] as? [NSDictionary])?.first?["function"] as? NSDictionary)
        let schema = try #require(tool["parameters"] as? NSDictionary)
        let item = try #require((schema["$defs"] as? NSDictionary)?["order_item"] as? NSDictionary, "the definition keeps its name")
        let sku = try #require((item["properties"] as? NSDictionary)?["sku_code"] as? NSDictionary)
        #expect(sku["type"] as? String == "string" && sku["enum"] as? [String] == ["A_B", "TYPE"])
        #expect((schema["patternProperties"] as? NSDictionary)?["^user_[0-9]+$"] != nil)
        let note = try #require((schema["properties"] as? NSDictionary)?["note"] as? NSDictionary)
        #expect((note["example"] as? NSDictionary)?["type"] as? String == "STRING", "an example is the client's value")
        #expect(schema["propertyOrdering"] == nil && schema["property_ordering"] == nil)
    }

    /// Counting weighs the prompt: a JSON answer format Anthropic could not
    /// take does not stop a Gemini client counting on an Anthropic account.
    @Test func countingIgnoresTheAnswersFormat() throws {
        let body =
            #"{"generate_content_request":{"contents":[{"parts":[{"text":"hi"}]}],"generation_config":{"response_mime_type":"application/json"}}}"#
        let request = try ClientRequest.inspect(ByteBuffer(string: body), dialect: .gemini, pathModel: "m", pathStream: false)
        let counted = try #require(try Translator(counting: request).countBody(for: .anthropic, model: "claude"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(buffer: counted)) as? NSDictionary)
        #expect(object["output_config"] == nil && (object["messages"] as? [Any])?.count == 1)
    }
}
