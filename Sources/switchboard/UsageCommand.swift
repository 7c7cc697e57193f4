import ArgumentParser
import Storage
import SwitchboardApp
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

struct Usage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Requests, tokens and cost by key and by model.")
    @OptionGroup var options: GlobalOptions
    @Option(help: "Only the last span of time, e.g. 24h, 7d, 30m (default: all time).") var since: String?
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        var start: Date?
        if let since {
            guard let span = DurationSyntax.parse(since) else {
                throw ValidationError("--since must be a duration such as 30m, 24h or 7d")
            }
            start = Date().addingTimeInterval(-Double(span.components.seconds))
        }
        let report = try await options.withStore { try await Admin(context: $0).usage(since: start) }
        func row(_ totals: UsageTotals) -> [String: String] {
            [
                "name": totals.name, "requests": String(totals.requests), "errors": String(totals.errors),
                "input": String(totals.inputTokens), "cache_read": String(totals.cacheReadTokens),
                "cache_write": String(totals.cacheWriteTokens), "output": String(totals.outputTokens),
                "cost_usd": totals.cost.dollarsString,
            ]
        }
        if json {
            return Format.printJSON([
                "by_key": report.byKey.map(row), "by_model": report.byModel.map(row), "total": [row(report.total)],
            ])
        }
        let columns = ["name", "requests", "errors", "input", "cache_read", "cache_write", "output", "cost_usd"]
        print("By key")
        Format.printTable(report.byKey.map(row), columns: columns)
        print("\nBy model")
        Format.printTable(report.byModel.map(row), columns: columns)
        print("\nTotal")
        Format.printTable([row(report.total)], columns: columns)
    }
}
