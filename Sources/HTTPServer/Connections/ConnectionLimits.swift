/// What one client connection may take from the server: time to send its
/// head and body, idle time between requests, the size and number of header
/// fields; and how many connections the server holds at once.
public struct ConnectionLimits: Sendable, Equatable {
    /// Total time to receive a request's head (`client_header_timeout`).
    public var headerTimeout: Duration = .seconds(10)
    /// Time to receive a body (`client_body_timeout`); past it, a body still
    /// arriving at `bodyMinimumRate` on average may go on.
    public var bodyTimeout: Duration = .seconds(30)
    /// The slowest average upload rate a large body is granted, in bytes per second.
    public var bodyMinimumRate = 64 * 1024
    /// How long an answer may wait on a client that takes none of it
    /// (`client_send_timeout`): the socket's buffer full and not one byte
    /// taken for that long, and the connection is reset. A client that reads
    /// slowly but reads is never cut.
    public var sendTimeout: Duration = .seconds(60)
    /// Idle time allowed between requests on a kept-alive connection (`keepalive_timeout`).
    public var keepaliveTimeout: Duration = .seconds(60)
    /// Connections held at once (`max_connections`); more are closed at once.
    public var maxConnections = 10_000
    /// Header fields in one request head (`max_header_fields`).
    public var maxHeaderFields = 100
    /// Bytes in one request head (`max_head_size`).
    public var maxHeadBytes = 64 * 1024

    /// The defaults.
    public init() {}

}
