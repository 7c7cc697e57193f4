import Foundation
import SwitchboardApp
import SwitchboardCore
import SwitchboardTesting
import Testing

/// `POST /v1/embeddings` through OpenAI-compatible accounts.
@Suite struct EmbeddingsTests {
    static func accounts(_ port: Int) -> [Configuration.AccountDeclaration] {
        Harness.defaultAccounts(fakePort: port) + [
            Harness.defaultAccounts(fakePort: port)[0].with(name: "embedder", models: ["text-embedding-3-small"])
        ]
    }

    @Test func theClientsEncodingIsKeptAndUsageRecorded() async throws {
        try await withHarness(accounts: Self.accounts) { harness in
            let floats = try await harness.send(
                "/v1/embeddings", body: #"{"model":"text-embedding-3-small","input":["a","b"],"encoding_format":"float"}"#)
            #expect(floats.status == 200)
            let data = try #require(floats.json["data"] as? [[String: Any]])
            #expect(data.count == 2 && (data[0]["embedding"] as? [Double]) == [0.25, -0.5, 1.0])
            let base64 = try await harness.send(
                "/v1/embeddings", body: #"{"model":"text-embedding-3-small","input":"a","encoding_format":"base64"}"#)
            let encoded = try #require(((base64.json["data"] as? [[String: Any]])?.first?["embedding"]) as? String)
            let decoded = try #require(Data(base64Encoded: encoded))
            #expect(decoded.count == 12, "three little-endian float32 values, passed through untouched")
            #expect(harness.fake.received.last?.body["encoding_format"] as? String == "base64")

            let row = try await harness.row(floats.headers.first(name: "x-request-id"))
            #expect(row.dialect == "openai_embeddings" && row.accountName == "embedder")
            #expect(row.usage.inputUncached == 16 && row.usage.output == 0)
            // text-embedding-3-small is $0.02 per million tokens.
            #expect(row.priced && row.cost.picos == 16 * 20_000)
        }
    }

    @Test func errorsAreInOpenAIsShape() async throws {
        try await withHarness(accounts: Self.accounts) { harness in
            let unknown = try await harness.send("/v1/embeddings", body: #"{"model":"nope","input":"a"}"#)
            #expect(unknown.status == 404 && (unknown.json["error"] as? [String: Any])?["code"] as? String == "model_not_found")
            let malformed = try await harness.send("/v1/embeddings", body: #"{"model":"#)
            #expect(malformed.status == 400)
        }
    }
}
