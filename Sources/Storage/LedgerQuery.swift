import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Which ledger rows the request explorer wants: every filter is optional and
/// they combine with AND; rows come newest first, `limit` at a time.
public struct LedgerQuery: Sendable, Equatable {
    public var from: Date?
    public var to: Date?
    public var keyName: String?
    public var userName: String?
    public var accountName: String?
    public var model: String?
    /// The route's operation as stored (`chat`, `messages`, `responses`, …).
    public var dialect: String?
    public var status: StatusFilter?
    public var outcome: Outcome?
    public var requestID: String?
    /// The session, as the ledger keeps it (`LedgerRow.session`).
    public var session: String?
    /// Where the previous page ended.
    public var cursor: LedgerCursor?
    /// Rows per page, 1…`maxLimit`.
    public var limit: Int = 50

    /// The largest page.
    public static let maxLimit = 500

    public init() {}

    /// An exact status (`429`) or a class of them (`5xx`).
    public enum StatusFilter: Sendable, Equatable {
        case exact(Int)
        case hundreds(Int)

        /// Reads `429` or `4xx`; nil for anything else.
        public init?(_ text: String) {
            let lower = text.lowercased()
            if lower.count == 3, lower.hasSuffix("xx"), let digit = Int(lower.prefix(1)), (1...5).contains(digit) {
                self = .hundreds(digit)
            } else if lower.count == 3, let code = Int(lower), (100...599).contains(code) {
                self = .exact(code)
            } else {
                return nil
            }
        }

        /// The statuses it admits, as an inclusive range.
        public var range: ClosedRange<Int> {
            switch self {
            case .exact(let code): return code...code
            case .hundreds(let digit): return (digit * 100)...(digit * 100 + 99)
            }
        }
    }
}

/// A position in the ledger's newest-first order: a row's time and its
/// insertion number. Shown to clients as opaque text.
public struct LedgerCursor: Sendable, Equatable {
    public var createdAtMs: Int64
    public var sequence: Int64

    public init(createdAtMs: Int64, sequence: Int64) {
        self.createdAtMs = createdAtMs
        self.sequence = sequence
    }

    /// `<milliseconds>-<sequence>`.
    public var text: String { "\(createdAtMs)-\(sequence)" }

    /// Reads `text`'s form; nil for anything else (never traps on a hostile value).
    public init?(text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.count <= 19 && $0.allSatisfy(\.isASCII) }),
            let time = Int64(parts[0]), let sequence = Int64(parts[1]), time >= 0, sequence >= 0
        else { return nil }
        self.createdAtMs = time
        self.sequence = sequence
    }
}

/// One page of the request explorer.
public struct LedgerPage: Sendable, Equatable {
    public var rows: [LedgerRow]
    /// Where the next page starts; nil on the last page.
    public var next: LedgerCursor?

    public init(rows: [LedgerRow], next: LedgerCursor?) {
        self.rows = rows
        self.next = next
    }
}

/// One session's ledger rows added up: what the per-session view of cache use shows.
public struct SessionUsage: Sendable, Equatable {
    /// The most accounts one session lists (a session that failed over across more shows the first ones).
    public static let maxAccounts = 20

    public var session: String
    public var keyID: Int64?
    public var keyName: String?
    public var userName: String?
    /// The accounts that served it, in no particular order.
    public var accounts: [String]
    public var firstAt: Date
    public var lastAt: Date
    public var requests: Int64
    public var errors: Int64
    public var tokens: TokenUsage
    public var cost: Money
    /// What its cache reads saved at list price.
    public var cacheSaved: Money
}
