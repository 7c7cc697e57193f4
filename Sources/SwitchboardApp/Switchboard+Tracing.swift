import Logging
import OTel
import ServiceLifecycle
import Synchronization
import Tracing

extension Switchboard {
    /// The tracer and the service that exports its spans (OTLP/HTTP with
    /// protobuf bodies, in batches), when `otlp_endpoint` is set. The standard
    /// `OTEL_*` environment variables (`OTEL_EXPORTER_OTLP_HEADERS` for a
    /// collector's credentials, `OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER`, …)
    /// adjust it; only W3C trace context is read from clients and sent upstream.
    static func tracing(_ config: Configuration, logger: Logger) throws -> (tracer: any Tracer, service: any Service)? {
        guard let url = try config.otlpTracesURL() else { return nil }
        var otel = OTel.Configuration.default
        otel.serviceName = "switchboard"
        otel.logs.enabled = false
        otel.metrics.enabled = false
        otel.traces.enabled = true
        otel.traces.exporter = .otlp
        otel.traces.otlpExporter.protocol = .httpProtobuf
        otel.traces.otlpExporter.endpoint = url
        otel.propagators = [.traceContext]
        otel.diagnosticLogger = .custom(logger)
        otel.diagnosticLogLevel = .warning
        let backend = try OTel.makeTracingBackend(configuration: otel)
        keptForever.withLock { $0.append((backend.factory, backend.service)) }
        logger.info("tracing on", metadata: ["otlp_endpoint": "\(url)", "propagate_trace": "\(config.propagateTrace)"])
        return (backend.factory, backend.service)
    }
}

/// Every tracer made, with its service, for the life of the process. Its OTLP
/// exporter shuts its HTTP client down synchronously when it is freed, which
/// traps on an event loop thread, and the gateway's last reference may go on
/// one; its service has shut the client down already by then.
private let keptForever = Mutex<[(any Tracer, any Service)]>([])
