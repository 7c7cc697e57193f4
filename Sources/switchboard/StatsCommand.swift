import Admin
import ArgumentParser
import Engine
import SwitchboardApp
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `switchboard stats key|user|group|account NAME`: a series from the rollups,
/// as `GET /admin/{kind}s/{name}/stats` answers it.
struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A key's, user's, group's or account's series: requests, errors by class, tokens and cost by class, by model, mean and p95 latency."
    )
    @OptionGroup var options: GlobalOptions
    @Argument(help: "key, user, group or account.") var kind: String
    @Argument(help: "Its name.") var name: String
    @Option(help: "From (ISO 8601, a UTC date, or Unix seconds).") var from: String?
    @Option(help: "To (default: now).") var to: String?
    @Option(help: "day, hour or minute (minutes are kept for two days).") var interval: String?
    @Option(help: "The last N UTC days, by day.") var days: Int?

    func run() async throws {
        var parameters: [String: String] = [:]
        parameters["from"] = from
        parameters["to"] = to
        parameters["interval"] = interval
        parameters["days"] = days.map(String.init)
        let view = try await options.withStats { stats throws -> UsageStatsView in
            let request = try StatsRequest.parse(parameters)
            switch kind {
            case "key": return try await stats.key(name, request)
            case "user": return try await stats.user(name, request)
            case "group": return try await stats.group(name, request)
            case "account": return try await stats.account(name, request)
            default: throw AdminError(.invalid, "the kind must be key, user, group or account")
            }
        }
        print(String(decoding: try AdminJSON.encode(view, pretty: true), as: UTF8.self))
    }
}

extension GlobalOptions {
    func withStats<T>(_ body: (StatsAdmin) async throws -> T) async throws -> T {
        try await withAdmin({ StatsAdmin(store: $0.store) }, body)
    }
}
