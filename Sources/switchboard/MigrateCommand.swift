import ArgumentParser
import Logging
import Storage
import SwitchboardApp

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `switchboard migrate --to postgres://…`: moves an SQLite installation into PostgreSQL.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy this installation's SQLite database into an empty PostgreSQL database.",
        discussion: """
            Copies accounts (secrets stay sealed), keys, users, groups, settings, aliases, quarantines, the audit log, \
            the ledger, captures and every rollup in one transaction, then compares each table's row count and the \
            ledger's and totals' sums; on any difference nothing is kept. Stop the gateway first. The replicas then \
            need this installation's master key (SWITCHBOARD_MASTER_KEY or the same master.key file).
            """)

    @OptionGroup var options: GlobalOptions
    @Option(help: "The PostgreSQL database to fill: postgres://user:password@host:5432/database?sslmode=…") var to: String

    func run() async throws {
        var target = try options.load()
        target.database = to
        guard case .postgres = try target.databaseLocation() else {
            throw ValidationError("--to must be a postgres:// URL")
        }
        try await options.withStore { context in
            guard let source = context.store as? SQLStore, case .sqlite = try options.load().databaseLocation() else {
                throw CommandFailure(message: "the configuration's database must be SQLite (it is what is copied)", code: CommandFailure.usage)
            }
            var logger = options.logger(target)
            logger.logLevel = .warning
            let destination = try await SQLStore.openPostgres(url: to, logger: logger)
            do {
                try await destination.migrate()
                let report = try await StoreCopy(from: source, to: destination).run()
                try await destination.close()
                print("Copied into \(try target.databaseLocation()):")
                for (table, count) in report.rows { print("  \(table): \(count) rows") }
                print("Checked equal on both sides:")
                for (label, value) in report.sums { print("  \(label): \(value)") }
                print("Point the replicas at it with database: (or SWITCHBOARD_DATABASE) and this installation's master key.")
            } catch {
                try? await destination.close()
                throw CommandFailure(message: "\(error)", code: CommandFailure.runtime)
            }
        }
    }
}
