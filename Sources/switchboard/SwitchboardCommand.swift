import ArgumentParser
import Engine
import Foundation
import Logging
import NIOCore
import NIOPosix
import Storage
import SwitchboardApp

/// `switchboard`: the gateway and its admin commands.
@main
struct SwitchboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchboard",
        abstract: "A self-hosted LLM API gateway.",
        version: "switchboard \(Switchboard.version) (commit \(BuildInfo.commit))",
        subcommands: [
            Serve.self, Init.self, Keys.self, Users.self, Groups.self, Accounts.self, Secrets.self, Usage.self, Stats.self,
            Reconcile.self, PolicyCommand.self, Capture.self, Models.self, Quarantines.self, Sessions.self, Providers.self, Migrate.self,
        ],
        defaultSubcommand: Serve.self)

    /// Runs Swift concurrency's jobs on NIO's event loops first (`EventLoopExecutor`).
    static func main() async {
        EventLoopExecutor.install()
        await EventLoopExecutor.verify()
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
            LineLogHandler.flush()
        } catch {
            finish(error)
        }
    }

    /// Ends the process for an error the way the README documents: one line on
    /// standard error, exit 2 for bad usage or configuration, 1 for a failure
    /// while running (help and `--version` print and exit 0).
    static func finish(_ error: any Error) -> Never {
        LineLogHandler.flush()  // what was logged comes before the error line
        switch error {
        case let failure as CommandFailure:
            FileHandle.standardError.write(Data("switchboard: \(failure.message)\n".utf8))
            Foundation.exit(failure.code)
        case let invalid as ValidationError:
            FileHandle.standardError.write(Data("switchboard: \(invalid.message)\n".utf8))
            Foundation.exit(CommandFailure.usage)
        default:
            let code = exitCode(for: error)
            // Help and --version print and succeed; an explicit exit code (`accounts test`) is kept.
            if code == .success || error is ExitCode { exit(withError: error) }
            let message = message(for: error).split(whereSeparator: \.isNewline).first.map(String.init) ?? "\(error)"
            let said = message.hasPrefix("Error: ") ? String(message.dropFirst("Error: ".count)) : message
            FileHandle.standardError.write(Data("switchboard: \(said)\n".utf8))
            Foundation.exit(code == .validationFailure ? CommandFailure.usage : CommandFailure.runtime)
        }
    }
}

/// Why a command stopped, said in one line, with its exit status.
struct CommandFailure: Error {
    /// Bad usage or configuration.
    static let usage: Int32 = 2
    /// A failure while running (a port in use, a database that cannot be written).
    static let runtime: Int32 = 1

    var message: String
    var code: Int32
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
            throw CommandFailure(message: error.description, code: CommandFailure.usage)
        }
    }

    /// A logger at the configured level, writing to standard error.
    func logger(_ config: Configuration) -> Logger {
        var logger = Logger(label: "switchboard")
        logger.logLevel = Logger.Level(rawValue: config.logLevel) ?? .info
        return logger
    }

    /// Runs an admin command against the opened store, closing it afterwards
    /// whatever happens (logging stays quiet unless something is wrong). The
    /// database must exist; standard error names it, so a command run against
    /// the wrong one shows which.
    func withStore<T>(_ body: (StoreContext) async throws -> T) async throws -> T {
        let config = try load()
        var logger = logger(config)
        logger.logLevel = .warning
        let context: StoreContext
        do {
            context = try await StoreContext.open(config, logger: logger, create: false)
        } catch let error as ConfigurationError {
            throw CommandFailure(message: error.description, code: CommandFailure.usage)
        } catch let error as MasterKeyLoader.LoadError {
            throw CommandFailure(message: error.description, code: CommandFailure.usage)
        }
        FileHandle.standardError.write(Data("database: \(try config.databaseLocation())\n".utf8))
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

    @Option(name: .long, help: "Address to listen on, HOST:PORT (default: listen: in the config, else 127.0.0.1:8080).")
    var listen: String?

    func run() async throws {
        // A file grown past a size limit must fail its write (the ledger then
        // refuses requests until it can write), not kill the process.
        signal(SIGXFSZ, SIG_IGN)
        var settings = try options.load()
        if let listen { settings.listen = listen }
        let config = settings
        LoggingSystem.bootstrap { label in
            var handler = LineLogHandler(label: label, format: config.logFormat)
            handler.logLevel = Logger.Level(rawValue: config.logLevel) ?? .info
            return handler
        }
        let logger = options.logger(config)
        do {
            let switchboard = try await Switchboard.build(config, logger: logger) { _ in ProcessMemory.releaseStartup(logger: logger) }
            try await switchboard.run(logger: logger)
        } catch let error as ConfigurationError {
            throw CommandFailure(message: error.description, code: CommandFailure.usage)
        } catch let error as IOError {
            throw CommandFailure(message: Self.explain(error, listen: config.listen), code: CommandFailure.runtime)
        }
    }

    /// A socket error as one line that says what to do.
    static func explain(_ error: IOError, listen: String) -> String {
        switch error.errnoCode {
        case EADDRINUSE:
            return
                "cannot listen on \(listen): the address is in use by another process (choose another with --listen HOST:PORT or listen: in the config)"
        case EACCES:
            return "cannot listen on \(listen): permission denied (ports below 1024 need privileges; choose a higher one with --listen)"
        case EADDRNOTAVAIL:
            return "cannot listen on \(listen): no interface of this machine has that address"
        default:
            return "cannot serve: \(error)"
        }
    }
}

/// `switchboard init`: makes the database and master key the configuration
/// names, so the admin commands have one to work on before the first `serve`.
struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create the database and master key the configuration names.")

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        let config = try options.load()
        var logger = options.logger(config)
        logger.logLevel = .warning
        let location = try config.databaseLocation()
        let existed: Bool
        if case .sqlite(let path) = location { existed = FileManager.default.fileExists(atPath: path) } else { existed = true }
        let context = try await StoreContext.open(config, logger: logger, create: true)
        try await context.store.close()
        switch location {
        case .sqlite: print(existed ? "database: \(location) (already there)" : "database: \(location) (created)")
        case .postgres: print("database: \(location) (migrated)")
        }
        print("master key: \(context.masterKeySource == "environment" ? "from SWITCHBOARD_MASTER_KEY" : context.masterKeySource.absolutePath)")
    }
}
