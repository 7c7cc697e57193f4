import Admin
import ArgumentParser
import Engine
import Foundation
import SwitchboardApp
import SwitchboardCore

struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "Try proposed limits on recorded traffic.", subcommands: [Simulate.self])

    struct Simulate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replay the recorded requests against the keys, users, groups, limits and prices of a proposed config.",
            discussion: """
                --config names the proposed file (its database is the one read). Keys, users and groups it declares replace \
                the stored ones of the same name; the rest are replayed as stored. Each request holds exactly what it would \
                cost; budgets count from the replay's start. Nothing is sent upstream or written.
                """)
        @OptionGroup var options: GlobalOptions
        @Option(help: "How far back: 7d, 24h, 90m.") var since: String = "7d"
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            guard let back = DurationSyntax.parse(since), back > .zero else {
                throw CommandFailure(message: "--since must be a duration such as 7d, 24h or 90m", code: CommandFailure.usage)
            }
            let proposal = try options.load()
            let from = Date().addingTimeInterval(-Double(back.components.seconds))
            let report = try await options.withStore { context in try await Admin(context: context).simulate(proposal, since: from) }
            if json { return print(String(decoding: try AdminJSON.encode(report, pretty: true), as: UTF8.self)) }
            print("replayed \(report.requests) requests since \(ISO8601DateFormatter().string(from: from)); \(report.refused) would be refused")
            print("recorded cost $\(report.recordedCostUsd); under the proposal $\(report.simulatedCostUsd)")
            if report.unknownKeyRows > 0 { print("\(report.unknownKeyRows) rows of keys that no longer exist were skipped") }
            for key in report.keys {
                let refused = key.refused.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                print(
                    "\(key.key): \(key.requests) requests, \(key.admitted) admitted\(key.queued > 0 ? " (\(key.queued) after a queue)" : "")"
                        + (refused.isEmpty ? "" : ", refused: \(refused)")
                        + "; $\(key.recordedCostUsd) recorded, $\(key.simulatedCostUsd) simulated; peak concurrency \(key.peakConcurrency)")
            }
        }
    }
}
