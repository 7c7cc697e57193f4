import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SwitchboardCore

/// What sends requests to providers. The gateway holds one; `HTTP1Transport`
/// is the one it runs with, and tests may script another without sockets.
public protocol UpstreamTransport: Sendable {
    /// The timeouts and bounds in force.
    var settings: TransportSettings { get }
    /// Sends one request and returns once the response head arrived.
    func send(_ request: UpstreamRequest) async throws(TransportFailure) -> UpstreamResponse
    /// Closes pooled connections.
    func shutdown() async throws
}

/// Timeouts and bounds of the upstream hop.
public struct TransportSettings: Sendable {
    /// Longest wait for a TCP connection.
    public var connectTimeout: TimeAmount
    /// Longest wait for the response head (a TLS handshake counts against it).
    public var firstByteTimeout: TimeAmount
    /// Longest silence while a response body streams.
    public var idleTimeout: TimeAmount
    /// Idle keep-alive connections kept per upstream origin on each event loop.
    public var idleConnectionsPerOrigin: Int
    /// How long an unused keep-alive connection is kept.
    public var idleConnectionLifetime: TimeAmount
    /// The largest non-streamed response body read.
    public var maxResponseBytes: Int
    /// The largest response head (status line and headers) read.
    public var maxHeadBytes: Int

    public init(
        connectTimeout: TimeAmount = .seconds(10), firstByteTimeout: TimeAmount = .seconds(600),
        idleTimeout: TimeAmount = .seconds(600), idleConnectionsPerOrigin: Int = 256,
        idleConnectionLifetime: TimeAmount = .seconds(60), maxResponseBytes: Int = 64 * 1024 * 1024,
        maxHeadBytes: Int = 64 * 1024
    ) {
        self.connectTimeout = connectTimeout
        self.firstByteTimeout = firstByteTimeout
        self.idleTimeout = idleTimeout
        self.idleConnectionsPerOrigin = idleConnectionsPerOrigin
        self.idleConnectionLifetime = idleConnectionLifetime
        self.maxResponseBytes = maxResponseBytes
        self.maxHeadBytes = maxHeadBytes
    }
}

extension TransportFailure {
    /// Maps a socket, TLS or HTTP parsing error to the gateway's transport failures.
    static func classify(_ error: any Error) -> TransportFailure {
        if let failure = error as? TransportFailure { return failure }
        if let connection = error as? NIOConnectionError {
            // Each address tried failed; when a socket could not even be made, the trouble is ours.
            let outOfDescriptors = connection.connectionErrors.contains { classify($0.error) == .outOfDescriptors }
            return outOfDescriptors ? .outOfDescriptors : .connectFailed
        }
        if let io = error as? IOError {
            switch io.errnoCode {
            case EMFILE, ENFILE: return .outOfDescriptors
            case ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, ETIMEDOUT: return .connectFailed
            case ECONNRESET, EPIPE: return .connectionReset
            default: return .other
            }
        }
        if let channel = error as? ChannelError {
            switch channel {
            case .connectTimeout: return .connectFailed
            case .eof, .ioOnClosedChannel, .alreadyClosed, .outputClosed, .inputClosed: return .connectionReset
            default: return .other
            }
        }
        // A TLS stream cut without close_notify is a reset; any other TLS error is a failed connection.
        if let tls = error as? NIOSSLError { return tls == .uncleanShutdown ? .connectionReset : .connectFailed }
        if error is BoringSSLError || error is NIOSSLExtraError { return .connectFailed }
        if error is NIOTooManyBytesError || error is HTTPParserError { return .badResponse }
        return .other
    }
}
