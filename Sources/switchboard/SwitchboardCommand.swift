import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import SwitchboardApp

/// `switchboard`: the gateway and its admin commands.
@main
struct SwitchboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchboard",
        abstract: "A self-hosted LLM API gateway.",
        subcommands: [Serve.self, Keys.self, Users.self, Groups.self, Accounts.self, Secrets.self, Usage.self],
        defaultSubcommand: Serve.self)

    /// Runs Swift concurrency's jobs on NIO's event loops first: request handlers
    /// and the sockets they use then share threads instead of hopping between two
    /// pools on every await. It must happen before any other task runs.
    static func main() async {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        await main(nil)
    }
}

/// The options every subcommand shares: where the configuration is.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "YAML configuration file (default: $SWITCHBOARD_CONFIG).")
    var config: String?

    /// The configuration from the file and the environment.
    func load() throws -> Configuration {
        let environment = ProcessInfo.processInfo.environment
        let file = config ?? environment["SWITCHBOARD_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        do {
            return try Configuration.load(file: file, environment: environment)
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        }
    }

    /// A logger at the configured level, writing to standard error.
    func logger(_ config: Configuration) -> Logger {
        var logger = Logger(label: "switchboard")
        logger.logLevel = Logger.Level(rawValue: config.logLevel) ?? .info
        return logger
    }

    /// Runs an admin command against the opened store, closing it afterwards
    /// whatever happens (logging stays quiet unless something is wrong).
    func withStore<T>(_ body: (StoreContext) async throws -> T) async throws -> T {
        let config = try load()
        var logger = logger(config)
        logger.logLevel = .warning
        let context = try await StoreContext.open(config, logger: logger)
        do {
            let result = try await body(context)
            try await context.store.close()
            return result
        } catch {
            try? await context.store.close()
            throw error
        }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the gateway.")

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        // A file grown past a size limit must fail its write (the ledger then
        // refuses requests until it can write), not kill the process.
        signal(SIGXFSZ, SIG_IGN)
        let config = try options.load()
        LoggingSystem.bootstrap { label in
            var handler = LineLogHandler(label: label)
            handler.logLevel = Logger.Level(rawValue: config.logLevel) ?? .info
            return handler
        }
        let logger = options.logger(config)
        let switchboard = try await Switchboard.build(config, logger: logger)
        try await switchboard.run(logger: logger)
    }
}
