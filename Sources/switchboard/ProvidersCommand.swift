import Admin
import ArgumentParser
import SwitchboardApp
import SwitchboardCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

struct Providers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Settings for all of one provider's accounts.",
        discussion:
            "--max-failovers caps the attempts after the first that one request makes on a provider's accounts; after that, only other providers' accounts serving the model are tried.",
        subcommands: [List.self, Set.self, Remove.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the providers and their settings.")
        @OptionGroup var options: GlobalOptions
        func run() async throws { try await options.printRouting { try await $0.providers() } }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a provider's settings, e.g. providers set anthropic --max-failovers 1.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "openai, anthropic, gemini or azure.") var provider: String
        @Option(help: "Failovers within this provider's accounts for one request (0 to 100).") var maxFailovers: Int?

        func run() async throws {
            guard let maxFailovers else { throw ValidationError("give --max-failovers, or use `providers remove` to lift the cap") }
            try await options.printRouting { try await $0.setProvider(provider, ["max_failovers": .number(Double(maxFailovers))]) }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Forget a provider's settings (no cap of its own).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The provider.") var provider: String
        func run() async throws {
            try await options.withRouting { try await $0.deleteProvider(provider) }
            print("Removed the settings of provider \(provider).")
        }
    }
}
