import Foundation
import Testing

@testable import SwitchboardCore

@Suite struct JSONReaderTests {
    @discardableResult
    func withReader<T>(_ text: String, _ body: (JSONReader) throws -> T) rethrows -> T {
        var text = text
        return try text.withUTF8 { try body(JSONReader(UnsafeRawBufferPointer($0))) }
    }

    @Test(arguments: [
        #"{}"#, #"[]"#, #"{"a":1}"#, #" { "a" : [1, 2.5, -3e+2, true, false, null, "x"] } "#, #""\u00e9\ud83d\ude00""#,
        #"0"#, #"-0.0e0"#, #"{"a":{"b":{"c":[[[]]]}}}"#, #"{"a":"\"\\\/\b\f\n\r\t"}"#,
    ])
    func acceptsValidDocuments(text: String) throws {
        try withReader(text) { reader in _ = try reader.validateDocument() }
        #expect((try? JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed)) != nil)
    }

    @Test(arguments: [
        "", "{", "}", #"{"a"}"#, #"{"a":}"#, #"{"a":1,}"#, "[1,]", "[1 2]", "01", "1.", ".5", "-", "1e", "tru", "nul",
        #"{"a":1}x"#, "\"\u{01}\"", #""\x""#, #""\u12""#, #"{1:2}"#, "'a'", #"{"model":"#, "[", #""abc"#,
    ])
    func rejectsInvalidDocuments(text: String) {
        withReader(text) { reader in #expect(throws: JSONSyntaxError.self) { _ = try reader.validateDocument() } }
    }

    @Test func refusesHostileNesting() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        withReader(deep) { reader in #expect(throws: JSONSyntaxError.self) { _ = try reader.validateDocument() } }
    }

    @Test func findsMembersAndTheirExactText() throws {
        let text = #"{"model": "gpt-4o" , "stream":true,"n":42,"nested":{"x":[1,{"y":"z"}]},"model":"last"}"#
        try withReader(text) { reader in
            let root = try reader.validateDocument()
            let members = reader.members(of: root)
            #expect(members.map(\.name) == ["model", "stream", "n", "nested", "model"])
            #expect(reader.member("model", of: root).flatMap(reader.string) == "last")
            #expect(reader.member("stream", of: root).flatMap(reader.bool) == true)
            #expect(reader.member("n", of: root).flatMap(reader.int64) == 42)
            let y = reader.value(at: ["nested", "x"], in: root).map(reader.elements)?.last
            #expect(y.flatMap { reader.member("y", of: $0) }.flatMap(reader.string) == "z")
            let first = members[0].value
            #expect(reader.text(first) == #""gpt-4o""#)
        }
    }

    /// A member is found by its name's code points: escaped or not, never by a
    /// look-alike that Unicode normalisation would call equal (U+212A KELVIN SIGN is not "K").
    @Test func findsMembersByExactNameWithoutBuildingAList() throws {
        let text = #"{"mod\u0065l":"escaped","\u212Aey":"kelvin","usage":{"prompt_tokens_details":{"cached_tokens":7}},"id":1,"id":2}"#
        try withReader(text) { reader in
            let root = try reader.validateDocument()
            #expect(reader.member("model", of: root).flatMap(reader.string) == "escaped")
            #expect(reader.member("Key", of: root) == nil)
            #expect(reader.member("\u{212A}ey", of: root).flatMap(reader.string) == "kelvin")
            #expect(reader.member("id", of: root).flatMap(reader.int64) == 2)
            #expect(
                reader.value("usage", "prompt_tokens_details", in: root).flatMap { reader.member("cached_tokens", of: $0) }.flatMap(reader.int64) == 7
            )
            #expect(reader.value("usage", "missing", in: root) == nil)
            #expect(reader.value("missing", in: root) == nil)
            #expect(reader.member("model", of: reader.member("id", of: root)!) == nil)
        }
    }

    @Test func decodesEscapes() throws {
        try withReader(#"["a\"b\\c\nd\u00e9\ud83d\ude00\/"]"#) { reader in
            let root = try reader.validateDocument()
            #expect(reader.elements(of: root).first.flatMap(reader.string) == "a\"b\\c\nd\u{e9}\u{1F600}/")
        }
    }

    @Test func emptyContainers() throws {
        try withReader(#"{"a":[],"b":[ ],"c":[1],"d":{ }}"#) { reader in
            let root = try reader.validateDocument()
            #expect(reader.member("a", of: root).map(reader.isEmptyContainer) == true)
            #expect(reader.member("b", of: root).map(reader.isEmptyContainer) == true)
            #expect(reader.member("c", of: root).map(reader.isEmptyContainer) == false)
            #expect(reader.member("d", of: root).map(reader.isEmptyContainer) == true)
        }
    }

    @Test func stringLiteralsRoundTrip() throws {
        for value in ["plain", "quote\"back\\slash", "line\nbreak\ttab", "\u{01}control", "ünïcødé 😀"] {
            let literal = jsonStringLiteral(value)
            let decoded = try JSONSerialization.jsonObject(with: Data(literal.utf8), options: .fragmentsAllowed) as? String
            #expect(decoded == value)
        }
    }
}
