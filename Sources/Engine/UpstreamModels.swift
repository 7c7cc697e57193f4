import NIOCore
import Policy
import SwitchboardCore
import Upstream

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The models an upstream account lists at its model endpoint.
public enum UpstreamModels {
    /// The most bytes of a model list read, and the most names kept.
    static let maxBytes = 4 << 20
    static let maxModels = 10_000

    /// Asks the account's model endpoint and reads the names: OpenAI's,
    /// Anthropic's and Azure's `data[].id`, Gemini's `models[].name` (without `models/`).
    public static func fetch(_ account: AccountEntry, transport: any UpstreamTransport) async throws(AdminError) -> [String] {
        guard account.secret != nil else { throw AdminError(.unavailable, account.unusableReason ?? "the account has no usable secret") }
        let response: UpstreamResponse
        let body: ByteBuffer
        do {
            response = try await transport.send(account.upstreamRequest(.listModels, body: ByteBuffer(), forwardedHeaders: []))
            body = try await response.collect(upTo: maxBytes)
        } catch {
            throw AdminError(.unavailable, "the upstream could not be reached (\(error.rawValue))")
        }
        guard (200..<300).contains(response.status) else {
            throw AdminError(.unavailable, "the upstream's model list answered \(response.status)")
        }
        return try names(in: body, provider: account.provider)
    }

    /// The model names in a model list body.
    static func names(in body: ByteBuffer, provider: Provider) throws(AdminError) -> [String] {
        guard let root = JSONValue.object(from: Data(body.readableBytesView)) else {
            throw AdminError(.unavailable, "the upstream's model list is not a JSON object")
        }
        let (listKey, nameKey) = provider == .gemini ? ("models", "name") : ("data", "id")
        guard case .array(let items)? = root[listKey] else { throw AdminError(.unavailable, "the upstream's model list has no \(listKey)") }
        var seen = Set<String>()
        let names = items.compactMap { item -> String? in
            guard case .object(let fields) = item, case .string(let name)? = fields[nameKey], !name.isEmpty, name.utf8.count <= 200 else {
                return nil
            }
            return provider == .gemini ? GeminiModelName.bare(name) : name
        }
        return Array(names.filter { seen.insert($0).inserted }.prefix(maxModels))
    }
}
