import Foundation
import NIOHTTP1
import Storage
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

    @Test func geminiAccountsServeThemInTheClientsEncoding() async throws {
        let accounts: (Int) -> [Configuration.AccountDeclaration] = { port in
            Harness.defaultAccounts(fakePort: port) + [Harness.geminiAccount(fakePort: port).with(models: ["gemini-embedding-001"])]
        }
        try await withHarness(accounts: accounts) { harness in
            let base64 = try await harness.send(
                "/v1/embeddings", body: #"{"model":"gemini-embedding-001","input":["hello","world"],"encoding_format":"base64","dimensions":3}"#)
            #expect(base64.status == 200 && base64.json["object"] as? String == "list")
            let data = try #require(base64.json["data"] as? [[String: Any]])
            #expect(data.count == 2 && data[1]["index"] as? Int == 1)
            let encoded = try #require(data[0]["embedding"] as? String)
            let decoded = try #require(Data(base64Encoded: encoded))
            let floats = decoded.withUnsafeBytes { raw in
                (0..<3).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
            }
            #expect(floats == FakeUpstream.embedding, "Gemini's floats, as little-endian float32")
            let sent = try #require(harness.fake.received.last)
            #expect(sent.path == "/v1beta/models/gemini-embedding-001:batchEmbedContents")
            #expect(sent.rawBody.contains(#""outputDimensionality":3"#) && sent.rawBody.contains(#""model":"models/gemini-embedding-001""#))

            let float = try await harness.send("/v1/embeddings", body: #"{"model":"gemini-embedding-001","input":"hello"}"#)
            #expect((((float.json["data"] as? [[String: Any]])?.first)?["embedding"] as? [Double]) == [0.25, -0.5, 1.0])
            // Gemini reports no usage for embeddings: an estimate is billed, and the row says so.
            let row = try await harness.row(base64.headers.first(name: "x-request-id"))
            #expect(row.dialect == "openai_embeddings" && row.provider == "gemini" && row.usage.inputUncached == 4 && row.usageIncomplete)
            #expect((base64.json["usage"] as? [String: Any])?["prompt_tokens"] as? Int == 4)

            // More inputs than one Gemini batch takes: refused, saying so.
            let many = "[" + (0..<101).map { "\"t\($0)\"" }.joined(separator: ",") + "]"
            let tooMany = try await harness.send("/v1/embeddings", body: #"{"model":"gemini-embedding-001","input":\#(many)}"#)
            #expect(tooMany.status == 400 && ((tooMany.json["error"] as? [String: Any])?["message"] as? String ?? "").contains("100"))
            // Token arrays have no Gemini counterpart: refused, not sent.
            let tokens = try await harness.send("/v1/embeddings", body: #"{"model":"gemini-embedding-001","input":[[1,2,3]]}"#)
            #expect(tokens.status == 400 && (tokens.json["error"] as? [String: Any])?["param"] as? String == "input")
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
