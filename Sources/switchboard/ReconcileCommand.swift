import Admin
import ArgumentParser
import Engine
import SwitchboardApp

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

struct Reconcile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare the ledger with a provider's usage or cost export, by day and model.",
        discussion: """
            FILE is OpenAI's usage API (group_by=model) or costs API (group_by=line_item) JSON, Anthropic's usage report \
            (group_by[]=model) or cost report JSON, or a CSV with date, model and token (and cost_usd) columns. Several files \
            (usage and cost) add up. The report is kept: the admin API and console show the last one.
            """)
    @OptionGroup var options: GlobalOptions
    @Option(help: "openai or anthropic.") var provider: String
    @Option(help: "Compare with this account only (default: every account of the provider).") var account: String?
    @Flag(help: "Print JSON.") var json = false
    @Argument(help: "The export file(s).") var files: [String]

    func run() async throws {
        guard let provider = ExportProvider(rawValue: provider) else {
            throw CommandFailure(message: "--provider must be openai or anthropic", code: CommandFailure.usage)
        }
        var data: [Data] = []
        for file in files {
            guard let contents = FileManager.default.contents(atPath: file) else {
                throw CommandFailure(message: "cannot read \(file)", code: CommandFailure.usage)
            }
            data.append(contents)
        }
        let report: ReconciliationReport
        do {
            report = try await options.withStore { context in
                try await ReconciliationAdmin(store: context.store).reconcile(data, provider: provider, account: account)
            }
        } catch let error as AdminError {
            throw ValidationError(error.description)
        }
        if json {
            return print(String(decoding: try AdminJSON.encode(report, pretty: true), as: UTF8.self))
        }
        func row(_ line: ReconciliationReport.Line) -> [String: String] {
            [
                "day": line.day, "model": line.model, "ledger_tokens": String(line.ledger.tokens), "provider_tokens": String(line.provider.tokens),
                "drift_tokens": String(line.driftTokens), "drift_%": line.driftPercent ?? "-", "ledger_usd": line.ledger.costUsd ?? "-",
                "provider_usd": line.provider.costUsd ?? "-", "drift_usd": line.driftUsd ?? "-",
            ]
        }
        print("\(provider.rawValue) \(report.account ?? "(every account)") \(report.from) … \(report.to)")
        Format.printTable(
            (report.lines + [report.total]).map(row),
            columns: ["day", "model", "ledger_tokens", "provider_tokens", "drift_tokens", "drift_%", "ledger_usd", "provider_usd", "drift_usd"])
    }
}
