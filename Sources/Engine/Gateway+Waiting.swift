import Dialects
import NIOCore
import Policy
import SwitchboardCore

extension Gateway {
    /// What the waiting stream's loop hears next.
    private enum WaitEvent: Sendable {
        case tick
        case decided(Result<Admitted, GatewayError>)
    }

    /// A streaming request that must queue for one of its key's slots: the
    /// answer starts at once (200, SSE) and carries keepalives in the dialect's
    /// own form while the request waits, so the client does not time out. Once
    /// admitted, the upstream stream follows in the same response; a refusal or
    /// an upstream failure becomes the stream's error event.
    func waitingStream(
        keepalive: String, _ key: KeyEntry, demand: KeyDemand, client: ClientRequest, request: GatewayRequest, accounts: [AccountEntry],
        settlement: Settlement
    ) -> GatewayResponse {
        let interval = configuration.keepaliveInterval
        let producer: StreamProducer = { write in
            let decision: Result<Admitted, GatewayError>? = await withTaskGroup(of: WaitEvent.self) { group in
                group.addTask {
                    .decided(await self.admitAfterWaiting(key, demand: demand, request: request, accounts: accounts, settlement: settlement))
                }
                group.addTask {
                    try? await Task.sleep(for: interval)
                    return .tick
                }
                while let event = await group.next() {
                    switch event {
                    case .tick:
                        do { try await write(ByteBuffer(string: keepalive)) } catch {
                            group.cancelAll()  // the client left while waiting
                            return nil
                        }
                        group.addTask {
                            try? await Task.sleep(for: interval)
                            return .tick
                        }
                    case .decided(let result):
                        group.cancelAll()
                        return result
                    }
                }
                return nil
            }
            guard let decision else {
                settlement.settle(status: 499, outcome: "client_disconnected", errorCode: "cancelled")
                return
            }
            switch decision {
            case .failure(let error):
                settlement.settle(status: error.status(in: request.dialect), outcome: "refused", errorCode: error.code.rawValue)
                try? await write(ErrorBody.streamEvent(error, dialect: request.dialect, requestID: request.requestID, opening: true))
            case .success(let admitted):
                let response = await self.relay(client, request: request, accounts: admitted.accounts, settlement: settlement)
                switch response.body {
                case .stream(let relayed):
                    await relayed(write)
                case .full(let body) where response.status >= 400:
                    // Already a JSON error in the client's format: send it as the stream's error event.
                    try? await write(ErrorBody.streamEvent(json: String(buffer: body), dialect: request.dialect, opening: true))
                case .full(let body):
                    try? await write(body)
                }
            }
        }
        return GatewayResponse(
            status: 200, headers: [("content-type", "text/event-stream; charset=utf-8"), ("cache-control", "no-cache")],
            body: .stream(producer))
    }

    /// A keepalive each SDK ignores: an SSE comment for OpenAI's streams, a
    /// `ping` event for Anthropic; none for Gemini, whose SDK fails on comments.
    static func keepalive(_ dialect: Dialect) -> String? {
        switch dialect {
        case .openAIChat, .openAIResponses: return ": keepalive\n\n"
        case .anthropicMessages: return "event: ping\ndata: {\"type\": \"ping\"}\n\n"
        case .gemini: return nil
        }
    }
}
