import SwitchboardCore
import Testing

@testable import Dialects

/// The text a stream delivered, counted for the estimate billed when an
/// upstream never reports its usage, and the scan under it.
@Suite struct DeliveredTextTests {
    func count(_ json: String, _ dialect: Dialect) -> Int64 { DeliveredText.count(json, dialect: dialect) }

    @Test func countsTheTextMembersOfEachDialect() {
        #expect(count(#"{"choices":[{"index":0,"delta":{"role":"assistant","content":"Hello"}}],"usage":null}"#, .openAIChat) == 5)
        #expect(
            count(
                #"{"choices":[{"delta":{"reasoning_content":"abc","tool_calls":[{"function":{"arguments":"{\"a\":1}"}}]}}]}"#,
                .openAIChat) == 3 + 7)
        #expect(count(#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#, .anthropicMessages) == 2)
        #expect(count(#"{"type":"content_block_delta","delta":{"type":"input_json_delta","partial_json":"{\"x\""}}"#, .anthropicMessages) == 4)
        #expect(count(#"{"type":"response.output_text.delta","delta":"four"}"#, .openAIResponses) == 4)
        #expect(count(#"{"candidates":[{"content":{"parts":[{"text":"gem"},{"text":"ini"}]}}]}"#, .gemini) == 6)
    }

    @Test func anEscapeCountsAsOneByte() {
        // a \" b \\ c \u00e9: six.
        #expect(count(#"{"content":"a\"b\\c\u00e9"}"#, .openAIChat) == 6)
    }

    @Test func onlyMembersCountNotNamesInsideText() {
        // A value that reads like a member is text of its own member, counted once.
        #expect(count(#"{"content":"x \"content\":\"yyy\""}"#, .openAIChat) == 17)
        #expect(count(#"{"role":"\"content\":\"yyy\""}"#, .openAIChat) == 0)
        // Other dialects' members and values that are not strings count nothing.
        #expect(count(#"{"content":null,"text":"ab","delta":{"content":"c"}}"#, .anthropicMessages) == 2)
        #expect(count(#"{"content":[{"type":"text","text":"ab"}]}"#, .openAIChat) == 0)
    }

    @Test func cutOrMalformedTextCountsWhatItCanAndNeverReadsPastTheEnd() {
        #expect(count(#"{"content":"abc"#, .openAIChat) == 3)
        #expect(count(#"{"content"#, .openAIChat) == 0)
        #expect(count(#"{"content":"#, .openAIChat) == 0)
        #expect(count(#"{"content":"ab\"#, .openAIChat) == 3)
        #expect(count(#"{"content":"ab\u00"#, .openAIChat) == 3)
        #expect(count("\"", .openAIChat) == 0)
        #expect(count("", .openAIChat) == 0)
        #expect(count(String(repeating: "\\", count: 1000) + "\"content\":\"x\"", .openAIChat) == 1)
    }

    @Test func theScannerFindsNestedMembersAndSkipsEscapedQuotes() {
        var text = #"{"a":"q\"b\":{","b" : {"c\\":1},"d":[{"e":{}}]}"#
        let names: [String] = text.withUTF8 { utf8 in
            let bytes = UnsafeRawBufferPointer(utf8)
            var scanner = MemberScanner(bytes)
            var names: [String] = []
            while let member = scanner.next() {
                names.append(String(decoding: bytes[member.name], as: UTF8.self) + (scanner.holdsObject(member) ? "{}" : ""))
            }
            return names
        }
        #expect(names == ["a", "b{}", #"c\\"#, "d", "e{}"])
    }
}
