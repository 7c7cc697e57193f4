import Policy
import Storage
import SwitchboardCore
import Tracing
import Upstream

/// The request's spans, when tracing is on (`otlp_endpoint`): one for the
/// request, a child for each attempt upstream. Attributes name what an operator
/// looks for (model, key and account names, status, outcome, tokens, cost);
/// never a secret, a prompt or an answer.
extension Exchange {
    /// The request's span, its parent the client's `traceparent` if it sent one.
    static func requestSpan(_ request: GatewayRequest, model: String, tracer: (any Tracer)?) -> (any Span)? {
        guard let tracer else { return nil }
        var context = ServiceContext.topLevel
        tracer.extract(request.headers, into: &context, using: HeaderListExtractor())
        let span = tracer.startSpan(request.operation.rawValue, context: context, ofKind: .server)
        span.attributes["switchboard.request_id"] = request.requestID
        span.attributes["gen_ai.request.model"] = model
        return span
    }

    /// Opens the attempt's span, and puts its `traceparent` on the upstream
    /// request when `propagate_trace` is on.
    func attemptSpan(_ account: AccountEntry, upstreamModel: String, outbound: inout UpstreamRequest) -> (any Span)? {
        guard let span, let tracer = gateway.configuration.tracer else { return nil }
        let attempt = tracer.startSpan("attempt \(account.provider.rawValue)", context: span.context, ofKind: .client)
        attempt.attributes["switchboard.account"] = account.name
        attempt.attributes["gen_ai.provider.name"] = account.provider.rawValue
        attempt.attributes["gen_ai.request.model"] = upstreamModel
        attempt.attributes["upstream.operation"] = outbound.operation.rawValue
        if gateway.configuration.propagateTrace {
            tracer.inject(attempt.context, into: &outbound.forwardedHeaders, using: HeaderListInjector())
        }
        return attempt
    }

    /// Ends the request's span with what its ledger row says.
    func endSpan(_ row: LedgerRow) {
        guard let span else { return }
        span.attributes["http.response.status_code"] = row.status
        span.attributes["switchboard.outcome"] = row.outcome.rawValue
        span.attributes["switchboard.attempts"] = row.attempts
        span.attributes["switchboard.stream"] = row.stream
        if let key = row.keyName { span.attributes["switchboard.key"] = key }
        if let account = row.accountName { span.attributes["switchboard.account"] = account }
        if let model = row.upstreamModel { span.attributes["gen_ai.response.model"] = model }
        if let code = row.errorCode { span.attributes["error.type"] = code }
        span.attributes["gen_ai.usage.input_tokens"] = row.usage.totalInput
        span.attributes["gen_ai.usage.output_tokens"] = row.usage.output
        span.attributes["switchboard.cost_usd"] = row.cost.dollarsString
        if row.status >= 500 || row.status == 0 || ![.ok, .clientError].contains(row.outcome) {
            span.setStatus(SpanStatus(code: .error, message: row.errorCode ?? row.outcome.rawValue))
        }
        span.end()
    }
}

/// Ends an attempt's span: its upstream status when one came, and the failure
/// (a fixed detail such as `upstream answered 503`) when it failed.
func endAttemptSpan(_ span: (any Span)?, status: Int?, failure: String?) {
    guard let span else { return }
    if let status { span.attributes["http.response.status_code"] = status }
    if let failure {
        span.attributes["error.type"] = failure
        span.setStatus(SpanStatus(code: .error, message: failure))
    }
    span.end()
}

extension Gateway {
    /// The W3C trace context headers a client's request may carry.
    public static let traceHeaders = ["traceparent", "tracestate"]
}

/// Reads W3C trace headers from a request's lowercase header list.
struct HeaderListExtractor: Extractor {
    func extract(key: String, from carrier: [(name: String, value: String)]) -> String? {
        let name = key.lowercased()
        return carrier.first { $0.name == name }?.value
    }
}

/// Writes W3C trace headers into an upstream request's header list, replacing any of the same name.
struct HeaderListInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [(name: String, value: String)]) {
        let name = key.lowercased()
        carrier.removeAll { $0.name == name }
        carrier.append((name, value))
    }
}
