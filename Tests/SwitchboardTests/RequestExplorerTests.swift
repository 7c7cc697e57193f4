import Admin
import Engine
import Foundation
import NIOHTTP1
import Storage
import SwitchboardApp
import SwitchboardCore
import Testing

/// Request records as the explorer reads them: who sent a request, why its
/// account was chosen, filters and cursor pages.
@Suite struct RequestExplorerTests {
    static let token = "admin-token-0123456789abcdef"

    @Test func theClientAddressComesFromForwardedForOnlyBehindATrustedProxy() {
        let proxies = [CIDR("10.0.0.0/8")!, CIDR("127.0.0.1")!]
        // Not behind a trusted proxy: the header is the client's own claim.
        #expect(ClientOrigin.address(peer: "203.0.113.9", forwardedFor: ["198.51.100.1"], trusted: proxies) == "203.0.113.9")
        #expect(ClientOrigin.address(peer: "127.0.0.1", forwardedFor: ["198.51.100.1"], trusted: []) == "127.0.0.1")
        // Behind one: the nearest untrusted hop, read from the right.
        #expect(ClientOrigin.address(peer: "127.0.0.1", forwardedFor: ["6.6.6.6, 198.51.100.1, 10.1.2.3"], trusted: proxies) == "198.51.100.1")
        #expect(ClientOrigin.address(peer: "127.0.0.1", forwardedFor: ["6.6.6.6", "198.51.100.7"], trusted: proxies) == "198.51.100.7")
        // A hop that is not an address stops the walk at the last trusted one.
        #expect(ClientOrigin.address(peer: "127.0.0.1", forwardedFor: ["<script>, 10.9.9.9"], trusted: proxies) == "10.9.9.9")
        #expect(ClientOrigin.address(peer: "127.0.0.1", forwardedFor: [], trusted: proxies) == "127.0.0.1")
    }

    @Test func aUserAgentIsCappedAndStrippedOfControlCharacters() {
        #expect(ClientOrigin.userAgent("a\nb\u{7}c") == "a b c")
        #expect(ClientOrigin.userAgent(String(repeating: "é", count: 500))!.utf8.count <= ClientOrigin.maxUserAgentBytes)
        #expect(ClientOrigin.userAgent("") == nil)
    }

    @Test func aRouteReadsBackAsHopsEvenWithSpacesInNames() {
        #expect(
            RequestView.hops("a=cooling(rate_limited,12s) my acct=failed(transient)") == [
                .init(account: "a", reason: "cooling(rate_limited,12s)"), .init(account: "my acct", reason: "failed(transient)"),
            ])
        #expect(RequestView.hops(nil).isEmpty)
    }

    @Test func hostileFilterValuesAreRefusedNotIgnored() {
        #expect(throws: AdminError.self) { try RequestAdmin.query(["status": "9xx"]) }
        #expect(throws: AdminError.self) { try RequestAdmin.query(["outcome": "nope"]) }
        #expect(throws: AdminError.self) { try RequestAdmin.query(["cursor": "99999999999999999999-1"]) }
        #expect(throws: AdminError.self) { try RequestAdmin.query(["limit": "100000"]) }
        #expect(throws: AdminError.self) { try RequestAdmin.query(["from": "yesterday"]) }
        #expect(throws: AdminError.self) { try RequestAdmin.query(["key": String(repeating: "k", count: 300)]) }
        let query = try? RequestAdmin.query(["status": "5xx", "from": "2026-12-05", "limit": "2"])
        #expect(query?.status == .hundreds(5) && query?.limit == 2)
        #expect(query?.from == WireDate.rfc3339("2026-12-05T00:00:00Z"))
    }

    @Test func requestsAreRecordedWithTheirOriginAndFoundByFilterAndCursor() async throws {
        try await withHarness(configure: {
            $0.adminToken = Self.token
            $0.trustedProxies = [CIDR("127.0.0.1")!]
        }) { (harness: Harness) async throws in
            var ids: [String] = []
            for model in ["echo", "echo", "fail-400", "echo"] {
                let reply = try await harness.send(
                    "/v1/chat/completions", body: Harness.chat(model),
                    headers: [("user-agent", "explorer-test/1.0\tx"), ("x-forwarded-for", "198.51.100.23")])
                ids.append(reply.headers["x-request-id"].first ?? "")
            }
            _ = try await harness.ledger(atLeast: 4)

            let one = try await harness.admin("/requests/\(ids[0])", token: Self.token)
            #expect(one.status == 200)
            #expect(one.json["client_address"] as? String == "198.51.100.23")
            #expect(one.json["user_agent"] as? String == "explorer-test/1.0 x")
            #expect(one.json["selection"] as? String == "ranked")
            let upstream = try #require(one.json["upstream_ms"] as? Int)
            #expect(upstream >= 0 && upstream <= one.json["latency_ms"] as? Int ?? -1)
            #expect(one.json["account"] as? String == "openai-1")
            #expect((one.json["tokens"] as? [String: Any])?["output"] as? Int ?? 0 > 0)
            #expect(try await harness.admin("/requests/no-such-id", token: Self.token).status == 404)

            let failed = try await harness.admin("/requests?status=4xx", token: Self.token)
            let failedIDs = (failed.json["requests"] as? [[String: Any]])?.compactMap { $0["request_id"] as? String }
            #expect(failedIDs == [ids[2]])

            // Pages of two, newest first, with nothing skipped or repeated.
            let first = try await harness.admin("/requests?limit=2&key=test-key", token: Self.token)
            let firstPage = (first.json["requests"] as? [[String: Any]])?.compactMap { $0["request_id"] as? String }
            let cursor = try #require(first.json["next_cursor"] as? String)
            let second = try await harness.admin("/requests?limit=2&key=test-key&cursor=\(cursor)", token: Self.token)
            let secondPage = (second.json["requests"] as? [[String: Any]])?.compactMap { $0["request_id"] as? String }
            #expect((firstPage ?? []) + (secondPage ?? []) == ids.reversed())
            #expect(second.json["next_cursor"] == nil)

            #expect(try await harness.admin("/requests?outcome=bogus", token: Self.token).status == 400)
            #expect(try await harness.send("/admin/requests", method: .GET, key: nil).status == 401)
        }
    }
}
