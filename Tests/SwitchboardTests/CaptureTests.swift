import Foundation
import NIOCore
import Storage
import SwitchboardCore
import Testing

@testable import Engine

/// What `capture:` keeps of a body: redacted at any depth, cut on a character
/// boundary, and nothing it cannot read when redaction is on.
@Suite struct CaptureTests {
    func settings(maxBytes: Int = 65_536, redact: Set<String> = ["password", "api_key"]) -> CaptureSettings {
        CaptureSettings(keys: ["k"], maxBytes: maxBytes, redact: redact, seal: { SealedSecret(keyID: "test", combined: Data($0.utf8)) })
    }

    @Test func namedFieldsAreRedactedAtAnyDepth() {
        let body = ByteBuffer(string: #"{"model":"m","metadata":{"password":"p1","list":[{"api_key":"k2","keep":1}]},"password":"p3"}"#)
        let (text, cut) = settings().kept(body, stream: false)
        #expect(!cut && !text.contains("p1") && !text.contains("k2") && !text.contains("p3"))
        #expect(text.contains(#""keep":1"#) && text.components(separatedBy: "[redacted]").count == 4)
    }

    @Test func streamsAreRedactedEventByEventAndWhatCannotBeReadIsLeftOut() {
        let stream = ByteBuffer(string: "data: {\"password\":\"p\"}\n\ndata: {\"half\n\ndata: [DONE]\n\n")
        let (text, _) = settings().kept(stream, stream: true)
        #expect(text.contains(#"data: {"password":"[redacted]"}"#) && text.contains("data: [not JSON: left out]") && text.contains("data: [DONE]"))
        let notJSON = settings().kept(ByteBuffer(string: "password=hunter2"), stream: false).0
        #expect(!notJSON.contains("hunter2"), "never stored unredacted")
        #expect(
            settings(redact: []).kept(ByteBuffer(string: "password=hunter2"), stream: false).0 == "password=hunter2", "without redaction, as sent")
    }

    @Test func crlfStreamsAreRedactedLineByLine() {
        let stream = ByteBuffer(string: "event: message\r\ndata: {\"password\":\"p\"}\r\n\r\n: keepalive hunter2\r\ndata: [DONE]\r\n")
        let (text, _) = settings().kept(stream, stream: true)
        #expect(!text.contains("\"p\"") && !text.contains("hunter2") && text.contains("event: message") && text.contains("[redacted]"))
    }

    @Test func bodiesAreCutOnACharacterBoundary() {
        let (text, cut) = settings(maxBytes: 5, redact: []).kept(ByteBuffer(string: "ab€€"), stream: false)  // € is three bytes
        #expect(cut && text == "ab€")
        let sealed = settings(maxBytes: 8).sealed(
            request: ByteBuffer(string: #"{"a":"123456789"}"#), response: nil, streamed: false, responseCut: false)
        let exchange = sealed.flatMap { try? JSONDecoder().decode(CapturedExchange.self, from: $0.combined) }
        #expect(exchange?.requestTruncated == true && exchange?.response == nil)
    }
}
