import Admin
import Engine
import Foundation
import NIOHTTP1
import Policy
import Storage
import SwitchboardApp
import SwitchboardCore
import SwitchboardTesting
import Testing

/// `ip_allow` / `ip_deny` on keys and users: the address the ledger records
/// (`X-Forwarded-For` only from `trusted_proxies`) decides, deny first.
@Suite struct AddressRuleTests {
    static let token = "admin-token-0123456789abcdef"

    func code(_ reply: Harness.Reply) -> String? { (reply.json["error"] as? [String: Any])?["code"] as? String }

    @Test func aKeysRangesAdmitOnlyItsAddressesAndDenyComesFirst() async throws {
        try await withHarness(configure: {
            $0.keys[0].policy.ipAllow = [CIDR("10.0.0.0/8")!, CIDR("127.0.0.0/8")!]
            $0.keys[0].policy.ipDeny = [CIDR("10.9.0.0/16")!]
            $0.trustedProxies = [CIDR("127.0.0.1")!]
        }) { harness in
            // The test client is 127.0.0.1, a trusted proxy here: the address it forwards counts.
            let inside = try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini"), headers: [("x-forwarded-for", "10.1.2.3")])
            #expect(inside.status == 200)
            let outside = try await harness.send(
                "/v1/chat/completions", body: Harness.chat("gpt-4o-mini"), headers: [("x-forwarded-for", "192.0.2.7")])
            #expect(outside.status == 403 && code(outside) == "ip_not_allowed")
            let denied = try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini"), headers: [("x-forwarded-for", "10.9.1.1")])
            #expect(denied.status == 403 && code(denied) == "ip_not_allowed", "ip_deny wins over ip_allow")
            let anthropic = try await harness.send(
                "/v1/messages", body: Harness.messages("claude-sonnet-4-5"), headers: [("x-forwarded-for", "192.0.2.7")])
            #expect(anthropic.status == 403 && (anthropic.json["error"] as? [String: Any])?["type"] as? String == "permission_error")
            #expect(harness.fake.received.count == 1, "a refused request never reaches the upstream")
            // Each refusal leaves a row saying why, with the address it came from.
            let rows = try await harness.ledger(atLeast: 4)
            let refused = rows.filter { $0.errorCode == "ip_not_allowed" }
            #expect(refused.count == 3 && refused.allSatisfy { $0.outcome == .refused && $0.status == 403 && $0.cost == .zero })
            #expect(Set(refused.compactMap(\.clientAddress)) == ["192.0.2.7", "10.9.1.1"])
        }
    }

    @Test func anUntrustedForwardedForIsIgnored() async throws {
        try await withHarness(configure: { $0.keys[0].policy.ipAllow = [CIDR("10.0.0.0/8")!] }) { harness in
            // No trusted proxy: the socket's 127.0.0.1 counts, whatever the header claims.
            let reply = try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini"), headers: [("x-forwarded-for", "10.1.2.3")])
            #expect(reply.status == 403 && code(reply) == "ip_not_allowed")
        }
    }

    @Test func aUsersRangesBindEveryKeyOfTheUserAndChangeThroughTheAdminAPI() async throws {
        try await withHarness(configure: {
            $0.adminToken = Self.token
            $0.users = [UserEntry(id: 0, name: "team-a")]
            $0.keys[0].policy.user = "team-a"
        }) { harness in
            func admin(_ path: String, _ body: String) async throws -> Harness.Reply {
                try await harness.admin(path, method: .PATCH, body: body, token: Self.token)
            }
            #expect(try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini")).status == 200)
            let set = try await admin("/users/team-a", #"{"ip_allow":["192.0.2.0/24"],"ip_deny":["2001:db8::/32"]}"#)
            #expect(
                set.status == 200 && set.json["ip_allow"] as? [String] == ["192.0.2.0/24"] && set.json["ip_deny"] as? [String] == ["2001:db8::/32"])
            let refused = try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini"))
            #expect(refused.status == 403 && code(refused) == "ip_not_allowed")
            #expect(try await admin("/users/team-a", #"{"ip_allow":null}"#).status == 200)
            #expect(try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini")).status == 200)
            for bad in [#"{"ip_allow":["10.0.0.0/33"]}"#, #"{"ip_deny":["example.com"]}"#, #"{"ip_allow":"10.0.0.0/8"}"#] {
                let reply = try await admin("/users/team-a", bad)
                #expect(reply.status == 400, "\(bad) was accepted")
            }
            let key = try await harness.admin("/keys/test-key", method: .PATCH, body: #"{"ip_deny":["127.0.0.1"]}"#, token: Self.token)
            #expect(key.status == 200 && key.json["ip_deny"] as? [String] == ["127.0.0.1"])
            #expect(code(try await harness.send("/v1/chat/completions", body: Harness.chat("gpt-4o-mini"))) == "ip_not_allowed")
        }
    }

    @Test func rangesReadBackAsTheyWereWrittenAndAStoredRangeThatCannotBeReadFailsClosed() throws {
        for text in ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::1", "fe80::1:2/64", "0.0.0.0/0"] {
            #expect(CIDR(text)?.description == text)
        }
        var policy = KeyPolicy()
        policy.ipAllow = [CIDR("10.0.0.0/8")!]
        let decoded = try JSONDecoder().decode(KeyPolicy.self, from: try JSONEncoder().encode(policy))
        #expect(decoded == policy)
        #expect(throws: (any Error).self) { try JSONDecoder().decode(KeyPolicy.self, from: Data(#"{"ipAllow":["10.0.0.0/99"]}"#.utf8)) }
        let rules = AddressRules(allow: [], deny: nil)
        #expect(!rules.admits(IPAddress("10.0.0.1")), "an empty allow list allows nothing")
        #expect(AddressRules().admits(nil) && !AddressRules(allow: [CIDR("10.0.0.0/8")!]).admits(nil))
    }
}
