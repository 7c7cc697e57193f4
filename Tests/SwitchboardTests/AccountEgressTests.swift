import Dialects
import Engine
import Foundation
import NIOCore
import Policy
import SwitchboardApp
import SwitchboardCore
import SwitchboardTesting
import Testing

/// An account's `headers` and `body_overrides`: added to what goes upstream,
/// never the credential, never the fields the gateway routes and bills by.
@Suite struct AccountEgressTests {
    @Test func anAccountsHeadersAndBodyFieldsReachTheUpstream() async throws {
        try await withHarness(configure: { config in
            for index in config.accounts.indices {
                config.accounts[index].headers = ["x-team": "blue", "user-agent": "switchboard-egress-test"]
                config.accounts[index].bodyOverrides = ["store": "false", "metadata": #"{"team":"blue"}"#]
            }
        }) { harness in
            let reply = try await harness.send(
                "/v1/chat/completions", body: Harness.chat("gpt-4o-mini", extra: #","store":true"#), headers: [("user-agent", "client/1.0")])
            #expect(reply.status == 200)
            let sent = try #require(harness.fake.received.last)
            #expect(sent.headers["x-team"] == "blue" && sent.headers["user-agent"] == "switchboard-egress-test")
            #expect(sent.rawBody.contains(#""store":false"#) && !sent.rawBody.contains(#""store":true"#))
            #expect(sent.rawBody.contains(#""metadata":{"team":"blue"}"#))
            #expect(sent.body["model"] as? String == "gpt-4o-mini" && sent.rawBody.contains(#""messages""#))
        }
    }

    @Test func overridesAreSplicedAndTheGatewaysOwnFieldsAndHeadersAreRefused() throws {
        let body = ByteBuffer(string: #"{"model":"m","store":true,"n":12345678901234567890}"#)
        let spliced = String(buffer: BodyOverrides.apply([("store", "false"), ("user", #""u-1""#)], to: body))
        #expect(spliced == #"{"user":"u-1","model":"m","store":false,"n":12345678901234567890}"#, "every other byte as it was")
        #expect(String(buffer: BodyOverrides.apply([("a", "1")], to: ByteBuffer(string: "{}"))) == #"{"a":1}"#)
        #expect(String(buffer: BodyOverrides.apply([("a", "1")], to: ByteBuffer(string: "[1]"))) == "[1]", "not an object: left alone")
        for (field, value) in [
            ("headers", JSONValue.object(["Authorization": .string("x")])), ("headers", .object(["x-bad\nname": .string("x")])),
            ("headers", .object(["x-ok": .string("line\r\nbreak")])), ("body_overrides", .object(["model": .string("other")])),
            ("body_overrides", .object(["stream": .bool(true)])),
        ] {
            #expect(throws: AdminError.self, "\(field) \(value)") { try AccountSettings(json: [field: value], name: "a") }
        }
        let fine = try AccountSettings(json: ["headers": .object(["X-Team": .string("a")]), "body_overrides": .null], name: "a")
        #expect(fine.headers == ["x-team": "a"] && fine.bodyOverrides == [:])
    }
}
