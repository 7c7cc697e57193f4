import Engine
import Foundation
import Storage
import SwitchboardCore

/// The ledger against a provider's export, day by day and model by model: the
/// tokens and list-price cost each side counts, and the drift between them.
public struct ReconciliationReport: Sendable, Codable, Equatable {
    public var provider: String
    /// The account the export was compared with; nil for every account of the provider.
    public var account: String?
    /// The days the export covers (UTC), first and last.
    public var from: String
    public var to: String
    public var createdAt: Date
    public var lines: [Line]
    public var total: Line

    /// One day and model (or the total).
    public struct Line: Sendable, Codable, Equatable {
        public var day: String
        public var model: String
        public var ledger: Side
        public var provider: Side
        /// Ledger less provider, in tokens.
        public var driftTokens: Int64
        /// Ledger less provider, in dollars; nil when the export carries no cost.
        public var driftUsd: String?
        /// The token drift as a share of the provider's count, in percent (two decimals); nil when the provider counted none.
        public var driftPercent: String?
    }

    /// What one side counted.
    public struct Side: Sendable, Codable, Equatable {
        public var requests: Int64?
        public var input: Int64
        public var cacheRead: Int64
        public var cacheWrite: Int64
        public var output: Int64
        public var tokens: Int64
        public var costUsd: String?

        init(_ usage: DailyUsage?) {
            requests = usage?.requests
            input = usage?.input ?? 0
            cacheRead = usage?.cacheRead ?? 0
            cacheWrite = usage?.cacheWrite ?? 0
            output = usage?.output ?? 0
            tokens = usage?.tokens ?? 0
            costUsd = usage?.cost?.dollarsString
        }
    }

    /// Compares `ledger` with `export`, matched by day and model family.
    public static func compare(
        ledger: [DailyUsage], export: [DailyUsage], provider: ExportProvider, account: String?, now: Date
    ) -> ReconciliationReport {
        func grouped(_ lines: [DailyUsage]) -> [String: DailyUsage] {
            var byKey: [String: DailyUsage] = [:]
            for var line in lines {
                line.model = DailyUsage.family(line.model)
                let key = line.day + "\u{1F}" + line.model
                if byKey[key] == nil { byKey[key] = DailyUsage(day: line.day, model: line.model) }
                byKey[key]?.add(line)
            }
            return byKey
        }
        let ours = grouped(ledger)
        let theirs = grouped(export)
        // An export without costs leaves the ledger's cost out of the drift too.
        let costed = export.contains { $0.cost != nil }
        var lines: [Line] = []
        var ourTotal = DailyUsage(day: "total", model: "")
        var theirTotal = DailyUsage(day: "total", model: "")
        for key in Set(ours.keys).union(theirs.keys).sorted() {
            let (mine, reported) = (ours[key], theirs[key])
            guard let sample = mine ?? reported else { continue }
            if let mine { ourTotal.add(mine) }
            if let reported { theirTotal.add(reported) }
            lines.append(line(day: sample.day, model: sample.model, mine, reported, costed: costed))
        }
        let days = theirs.values.map(\.day).sorted()
        return ReconciliationReport(
            provider: provider.rawValue, account: account, from: days.first ?? "", to: days.last ?? "", createdAt: now, lines: lines,
            total: line(day: "total", model: "", ourTotal, theirTotal, costed: costed))
    }

    static func line(day: String, model: String, _ mine: DailyUsage?, _ reported: DailyUsage?, costed: Bool) -> Line {
        let ourTokens = mine?.tokens ?? 0
        let theirTokens = reported?.tokens ?? 0
        let drift = ourTokens.saturatingSubtract(theirTokens)
        var percent: String?
        if theirTokens > 0 {
            let hundredths = (Double(drift) / Double(theirTokens) * 10_000).rounded()
            percent = String(format: "%.2f", hundredths / 100)
        }
        var ledgerSide = Side(mine)
        if !costed { ledgerSide.costUsd = nil }
        let driftUsd = costed ? ((mine?.cost ?? .zero) - (reported?.cost ?? .zero)).dollarsString : nil
        return Line(
            day: day, model: model, ledger: ledgerSide, provider: Side(reported), driftTokens: drift, driftUsd: driftUsd, driftPercent: percent)
    }
}

/// Runs reconciliations and keeps the last report (for the admin API and the console).
public struct ReconciliationAdmin: Sendable {
    let store: any GatewayStore

    public init(store: any GatewayStore) { self.store = store }

    /// The setting the last report is kept in.
    static let setting = "reconciliation:last"

    /// Compares the export with the ledger over the export's days, keeps the report, and returns it.
    public func reconcile(_ files: [Data], provider: ExportProvider, account: String?, now: Date = Date()) async throws -> ReconciliationReport {
        var export: [DailyUsage] = []
        for data in files { export += try ProviderExport.parse(data, provider: provider) }
        guard !export.isEmpty else { throw AdminError(.invalid, "the export holds no usage") }
        if let account, try await !store.listAccounts().contains(where: { $0.name == account }) {
            throw AdminError(.notFound, "no account named \(account)")
        }
        let days = export.map(\.day).sorted()
        guard let first = days.first.flatMap(Self.date), let last = days.last.flatMap(Self.date) else {
            throw AdminError(.invalid, "the export's days cannot be read")
        }
        let ledger = try await store.dailyUsage(
            provider: provider.rawValue, account: account, from: first, to: last.addingTimeInterval(86_400))
        // Whole seconds, as the kept report's time reads back.
        let time = Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down))
        let report = ReconciliationReport.compare(ledger: ledger, export: export, provider: provider, account: account, now: time)
        try await store.putSetting(Self.setting, String(decoding: try AdminJSON.encode(report), as: UTF8.self))
        return report
    }

    /// The last report, if any; nil when none was run or it cannot be read.
    public func last() async throws -> ReconciliationReport? {
        guard let text = try await store.setting(Self.setting) else { return nil }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(ReconciliationReport.self, from: Data(text.utf8))
    }

    static func date(_ day: String) -> Date? { WireDate.rfc3339(day + "T00:00:00Z") }
}
