import NIOCore
import Policy
import Upstream

extension AccountEntry {
    /// A request to this account: its provider, base URL and credential, in
    /// the header its options name, and Azure's deployment where it has one.
    func upstreamRequest(
        _ operation: UpstreamRequest.Operation, model: String = "", body: ByteBuffer, forwardedHeaders: [(name: String, value: String)]
    ) -> UpstreamRequest {
        var request = UpstreamRequest(
            provider: self.provider, baseURL: self.baseURL, secret: self.secret ?? "", operation: operation, model: model, body: body,
            forwardedHeaders: forwardedHeaders)
        request.authHeader = self.options.authHeader
        request.deployment = self.options.deployment
        request.apiVersion = self.options.apiVersion
        request.egress = egress
        return request
    }

    /// Which way its requests leave (a stored proxy that does not read makes
    /// the account unusable when the snapshot loads; here it would go direct).
    var egress: Egress {
        switch self.options.proxy {
        case nil: return .inherit
        case "direct"?: return .direct
        case let text?:
            guard var proxy = UpstreamProxy.parse(text) else { return .direct }
            proxy.password = self.proxyPassword
            return .proxy(proxy)
        }
    }
}
