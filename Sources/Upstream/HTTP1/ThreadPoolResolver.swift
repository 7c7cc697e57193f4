import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Addresses for a new upstream connection: an address literal at once, a name
/// by one `getaddrinfo` on a thread pool of its own (shared by the A and AAAA
/// queries of one connection attempt).
///
/// Why not NIO's own resolver: it runs `getaddrinfo` on libdispatch's global
/// queues, and on Linux libdispatch's worker monitor traps the whole process
/// (SIGILL, no message) when it cannot open `/proc/<tid>/stat` while work is
/// queued there, that is, when the process is out of descriptors. The gateway
/// must live through exactly that, so nothing of the request path queues work
/// on libdispatch (see also `LoopTimer`).
struct ThreadPoolResolver: Resolver, Sendable {
    private let loop: any EventLoop
    private let lookup = NIOLockedValueBox<EventLoopFuture<[SocketAddress]>?>(nil)

    init(loop: any EventLoop) {
        self.loop = loop
    }

    func initiateAQuery(host: String, port: Int) -> EventLoopFuture<[SocketAddress]> {
        addresses(host, port).map { $0.filter { $0.protocol == .inet } }
    }

    func initiateAAAAQuery(host: String, port: Int) -> EventLoopFuture<[SocketAddress]> {
        addresses(host, port).map { $0.filter { $0.protocol == .inet6 } }
    }

    /// A blocking lookup cannot be stopped; its answer is dropped.
    func cancelQueries() {}

    private func addresses(_ host: String, _ port: Int) -> EventLoopFuture<[SocketAddress]> {
        lookup.withLockedValue { pending in
            if let pending { return pending }
            let future: EventLoopFuture<[SocketAddress]>
            if let literal = try? SocketAddress(ipAddress: host, port: port) {
                future = loop.makeSucceededFuture([literal])
            } else {
                future = Self.lookups.runIfActive(eventLoop: loop) { Self.resolve(host, port: port) }
            }
            pending = future
            return future
        }
    }

    /// Lookups' own threads, started on first use: `getaddrinfo` can block for
    /// seconds when DNS is slow, and NIO's shared pool (a thread per core) runs
    /// SQLite's statements and the journal's writes, which requests wait on.
    static let lookups: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 4)
        pool.start()
        return pool
    }()

    /// The system resolver's TCP addresses for a name, in its order; none when it fails.
    static func resolve(_ host: String, port: Int) -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_protocol = Int32(IPPROTO_TCP)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else { return [] }
        defer { freeaddrinfo(first) }
        let networkPort = UInt16(clamping: port).bigEndian
        var addresses: [SocketAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            if let socket = info.pointee.ai_addr {
                switch Int32(socket.pointee.sa_family) {
                case AF_INET:
                    var address = socket.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee }
                    address.sin_port = networkPort
                    addresses.append(SocketAddress(address, host: host))
                case AF_INET6:
                    var address = socket.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee }
                    address.sin6_port = networkPort
                    addresses.append(SocketAddress(address, host: host))
                default: break
                }
            }
            cursor = info.pointee.ai_next
        }
        return addresses
    }
}
