import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import NIOPosix
import Foundation
import SwitchboardCore

/// Sends requests to providers over one pooled `HTTPClient`.
public final class UpstreamTransport: Sendable {
    /// Timeouts and pool size.
    public struct Configuration: Sendable {
        /// Longest wait for a TCP (and TLS) connection.
        public var connectTimeout: TimeAmount
        /// Longest wait for the response head.
        public var firstByteTimeout: TimeAmount
        /// Longest silence while a response body streams.
        public var idleTimeout: TimeAmount
        /// Connections kept per upstream host.
        public var connectionsPerHost: Int
        /// The largest non-streamed response body read.
        public var maxResponseBytes: Int

        public init(
            connectTimeout: TimeAmount = .seconds(10), firstByteTimeout: TimeAmount = .seconds(600),
            idleTimeout: TimeAmount = .seconds(600), connectionsPerHost: Int = 512,
            maxResponseBytes: Int = 64 * 1024 * 1024
        ) {
            self.connectTimeout = connectTimeout
            self.firstByteTimeout = firstByteTimeout
            self.idleTimeout = idleTimeout
            self.connectionsPerHost = connectionsPerHost
            self.maxResponseBytes = maxResponseBytes
        }
    }

    /// Connections here must reach an address the policy allows, checked on
    /// the connected socket itself (so a name that now resolves elsewhere is refused).
    let checked: HTTPClient
    /// For hosts the policy allows by name (or everything, with private upstreams allowed).
    let trusted: HTTPClient
    /// The settings in force.
    public let configuration: Configuration
    /// Where requests may go.
    public let policy: UpstreamPolicy

    /// Creates the transport on the shared event loop group.
    public init(configuration: Configuration = .init(), policy: UpstreamPolicy = .init()) {
        self.configuration = configuration
        self.policy = policy
        trusted = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: Self.clientConfiguration(configuration))
        if policy.allowPrivate {
            checked = trusted
        } else {
            var config = Self.clientConfiguration(configuration)
            let guardConnection: @Sendable (Channel) -> EventLoopFuture<Void> = { channel in
                guard policy.allows(channel.remoteAddress) else {
                    // Closed on a later tick: closing while the pool still sets the
                    // connection up would race its bookkeeping.
                    channel.eventLoop.execute { channel.close(promise: nil) }
                    return channel.eventLoop.makeFailedFuture(TransportFailure.addressRefused)
                }
                return channel.eventLoop.makeSucceededVoidFuture()
            }
            config.http1_1ConnectionDebugInitializer = guardConnection
            config.http2ConnectionDebugInitializer = guardConnection
            checked = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: config)
        }
    }

    /// The HTTP client settings every upstream connection shares.
    static func clientConfiguration(_ configuration: Configuration) -> HTTPClient.Configuration {
        var config = HTTPClient.Configuration()
        // The read timeout starts once the request is sent, so it also bounds the
        // wait for the response head: the head waits for the smaller of the two.
        config.timeout = .init(connect: configuration.connectTimeout, read: configuration.idleTimeout)
        config.connectionPool = .init(idleTimeout: .seconds(60))
        config.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = configuration.connectionsPerHost
        // A refused connection must fail now so the next account can be tried,
        // not be retried until the connect timeout.
        config.connectionPool.retryConnectionEstablishment = false
        config.redirectConfiguration = .disallow
        config.decompression = .disabled
        return config
    }

    /// The client for a request's host.
    func client(for url: String) -> HTTPClient {
        if policy.allowPrivate { return trusted }
        // A URL whose host cannot be read goes through the checked client too:
        // the connect-time check judges the address it actually reaches.
        guard let host = URL(string: url)?.host else { return checked }
        return policy.allowsName(host) ? trusted : checked
    }

    /// Sends one request and returns once the response head arrived.
    public func send(_ request: UpstreamRequest) async throws(TransportFailure) -> UpstreamResponse {
        var outbound = HTTPClientRequest(url: request.url)
        for (name, value) in request.headers { outbound.headers.add(name: name, value: value) }
        if request.operation == .listModels {
            outbound.method = .GET
        } else {
            outbound.method = .POST
            outbound.body = .bytes(request.body)
        }
        do {
            let response = try await client(for: request.url).execute(outbound, timeout: configuration.firstByteTimeout)
            return UpstreamResponse(
                status: Int(response.status.code),
                headers: response.headers.map { ($0.name.lowercased(), $0.value) },
                body: UpstreamReader(response.body))
        } catch {
            throw Self.classify(error)
        }
    }

    /// Closes pooled connections.
    public func shutdown() async throws {
        // Both clients, whatever the first says (a client left running must not be dropped).
        var failure: (any Error)?
        do { try await trusted.shutdown() } catch { failure = error }
        if checked !== trusted { try await checked.shutdown() }
        if let failure { throw failure }
    }

    /// Maps the HTTP client's errors to the gateway's transport failures.
    static func classify(_ error: any Error) -> TransportFailure {
        if let failure = error as? TransportFailure { return failure }
        if let error = error as? HTTPClientError, "\(error)".contains(TransportFailure.addressRefused.rawValue) { return .addressRefused }
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded: return .firstByteTimeout
            case .readTimeout: return .idleTimeout
            case .connectTimeout, .tlsHandshakeTimeout, .getConnectionFromPoolTimeout: return .connectFailed
            case .remoteConnectionClosed, .cancelled: return .connectionReset
            case .bodyLengthMismatch: return .badResponse
            default: return .other
            }
        }
        if error is NIOConnectionError { return .connectFailed }
        if let io = error as? IOError {
            switch io.errnoCode {
            case ECONNREFUSED, EHOSTUNREACH, ENETUNREACH: return .connectFailed
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
        if error is NIOTooManyBytesError || error is HTTPParserError { return .badResponse }
        return .other
    }
}
