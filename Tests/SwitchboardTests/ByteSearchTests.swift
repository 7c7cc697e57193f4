import Testing

@testable import SwitchboardCore

@Suite struct ByteSearchTests {
    @Test func findsPartsByteForByte() {
        #expect("/v1/responses/resp_1/input_items".holdsBytes("/responses/"))
        #expect(!"/v1/responses".holdsBytes("/responses/"))
        #expect("ends with the part".holdsBytes("part"))
        #expect("part starts it".holdsBytes("part"))
        #expect(!"pa".holdsBytes("part"))
        #expect("anything".holdsBytes(""))
        #expect(!"".holdsBytes("x"))
        #expect("gemini-2.5-flash:generateContent".holdsBytes(":"))
        #expect("café crème".holdsBytes("é cr"))
        #expect(!"caf\u{65}\u{301}".holdsBytes("café"), "bytes, not canonical equivalence")
        let long = String(repeating: "a", count: 50_000) + "write a 5-10 word title"
        #expect(long.holdsBytes("write a 5-10 word title"))
        #expect(long.dropFirst(10).holdsBytes("word title"), "a substring too")
    }

    /// Media types and client names are matched without case, as the lowercased copy matched them.
    @Test func prefixesMatchWithoutASCIICase() {
        #expect("Text/Event-Stream; charset=utf-8".hasPrefixIgnoringASCIICase("text/event-stream"))
        #expect("text/event-stream".hasPrefixIgnoringASCIICase("text/event-stream"))
        #expect(!"text/event".hasPrefixIgnoringASCIICase("text/event-stream"), "shorter than the prefix")
        #expect(!"application/json".hasPrefixIgnoringASCIICase("text/event-stream"))
        #expect("CODEX_cli_rs/0.1".hasPrefixIgnoringASCIICase("codex"))
        #expect("anything".hasPrefixIgnoringASCIICase(""))
        #expect(!"çodex".hasPrefixIgnoringASCIICase("codex"), "non-ASCII letters are not folded")
        #expect(!"text[event-stream".hasPrefixIgnoringASCIICase("text{event-stream"), "only letters are folded")
    }
}
