import NIOCore
import Policy
import SwitchboardCore
import Upstream

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What one probe of an account found; safe to show admins (no upstream body,
/// which may quote the credential).
public struct ProbeResult: Sendable, Codable, Equatable {
    /// Whether the upstream accepted the request.
    public var ok: Bool
    /// The upstream's HTTP status, when it answered.
    public var status: Int?
    /// How the failure is understood (`credential`, `rate_limited`, …); nil when ok.
    public var failureClass: String?
    /// A sentence for admins.
    public var message: String
    /// Milliseconds until the answer's head.
    public var latencyMs: Int64
}

/// Sends one small request to an account, outside any client request.
public enum AccountProbe {
    /// What to send.
    public enum Kind: Sendable {
        /// A generation of a few tokens on the account's first model: proves the
        /// credential, the base URL and the model (costs a few tokens).
        case minimalRequest
        /// `GET …/models`: proves the credential and base URL, free.
        case listModels
    }

    /// Probes an account and returns what happened.
    public static func run(_ account: AccountEntry, kind: Kind, transport: any UpstreamTransport) async -> ProbeResult {
        guard account.secret != nil else {
            return ProbeResult(
                ok: false, status: nil, failureClass: "credential", message: account.unusableReason ?? "no usable secret", latencyMs: 0)
        }
        let request: UpstreamRequest
        switch kind {
        case .listModels:
            request = account.upstreamRequest(.listModels, body: ByteBuffer(), forwardedHeaders: [])
        case .minimalRequest:
            // A glob is no model: the first concrete name (or one from the model list).
            let upstreamModel = account.upstreamModel(for: account.concreteModels.first ?? account.models.first ?? "")
            let model = jsonStringLiteral(upstreamModel)
            let (operation, body): (UpstreamRequest.Operation, String)
            switch account.provider {
            case .anthropic:
                (operation, body) = (.anthropicMessages, #"{"model":\#(model),"max_tokens":16,"messages":[{"role":"user","content":"ping"}]}"#)
            case .openai, .azure:
                (operation, body) = (.openAIChat, #"{"model":\#(model),"max_completion_tokens":16,"messages":[{"role":"user","content":"ping"}]}"#)
            case .gemini:
                (operation, body) = (
                    .geminiGenerate, #"{"contents":[{"role":"user","parts":[{"text":"ping"}]}],"generationConfig":{"maxOutputTokens":16}}"#
                )
            }
            request = account.upstreamRequest(operation, model: upstreamModel, body: ByteBuffer(string: body), forwardedHeaders: [])
        }
        let started = ContinuousClock.now
        func elapsed() -> Int64 { started.duration(to: .now).wholeMilliseconds }
        do {
            let response = try await transport.send(request)
            _ = try? await response.collect(upTo: 1 << 20)
            if (200..<300).contains(response.status) {
                return ProbeResult(
                    ok: true, status: response.status, failureClass: nil, message: "the upstream answered \(response.status)", latencyMs: elapsed())
            }
            let failureClass = FailureClass.classify(status: response.status)
            return ProbeResult(
                ok: false, status: response.status, failureClass: failureClass.rawValue,
                message: "the upstream answered \(response.status) (\(failureClass.rawValue))", latencyMs: elapsed())
        } catch {
            return ProbeResult(
                ok: false, status: nil, failureClass: FailureClass.classify(transport: error).rawValue,
                message: "the upstream could not be reached (\(error.rawValue))", latencyMs: elapsed())
        }
    }
}
