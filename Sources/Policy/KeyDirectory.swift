import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What the hot path knows about one downstream key: enough to authenticate and
/// attribute a request without a database round trip. Its `Fields` are read and
/// set as its own (`key.policy`), kept in one shared box (`SharedFields`): a key is
/// copied several times per request (authentication, admission, the exchange, the
/// settlement), and its policy alone holds some thirty lists, strings and limits.
@dynamicMemberLookup
public struct KeyEntry: Sendable, Equatable {
    public struct Fields: Sendable, Equatable {
        /// The key's database id.
        public var id: Int64
        /// The key's unique name.
        public var name: String
        /// Whether the key may be used (not revoked or disabled).
        public var enabled: Bool
        /// When the key stops working, if ever.
        public var expiresAt: Date?
        /// Limits, allow-lists and budgets.
        public var policy: KeyPolicy
    }

    @usableFromInline var shared: SharedFields<Fields>

    @inlinable public subscript<Value>(dynamicMember field: WritableKeyPath<Fields, Value>) -> Value {
        get { shared[field] }
        set { shared.fields[keyPath: field] = newValue }
    }

    /// Creates an entry.
    public init(id: Int64, name: String, enabled: Bool, expiresAt: Date?, policy: KeyPolicy = .init()) {
        shared = SharedFields(Fields(id: id, name: name, enabled: enabled, expiresAt: expiresAt, policy: policy))
    }
}

/// Every key, by its keyed hash; an immutable snapshot swapped in as a whole.
public struct KeyDirectory: Sendable {
    private let byHash: [String: KeyEntry]
    private let byID: [Int64: KeyEntry]

    /// A directory of the given keys, by hex hash.
    public init(byHash: [String: KeyEntry] = [:]) {
        self.byHash = byHash
        self.byID = Dictionary(byHash.values.map { ($0.id, $0) }) { a, _ in a }
    }

    /// The key with this id, usable or not.
    public func entry(id: Int64) -> KeyEntry? { byID[id] }

    /// Every key, in id order.
    public var entries: [KeyEntry] { byID.values.sorted { $0.id < $1.id } }

    /// The number of keys.
    public var count: Int { byHash.count }

    /// The key with this hash if it is usable at `now`. Unknown, disabled and
    /// expired keys all answer nil, so callers cannot tell them apart.
    public func authenticate(hash: String, now: Date) -> KeyEntry? {
        guard let entry = byHash[hash], entry.enabled else { return nil }
        if let expiry = entry.expiresAt, expiry <= now { return nil }
        return entry
    }
}
