import Admin
import ArgumentParser
import Engine
import Foundation
import SwitchboardApp
import SwitchboardCore

struct Models: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage model aliases: a name clients ask for, standing for other models.",
        discussion:
            "Without weights the first target serves and the rest are fallbacks, tried when the earlier targets' accounts are all failing, cooling or full; with --weights, traffic is shared among them in proportion.",
        subcommands: [List.self, Set.self, Remove.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the model aliases.")
        @OptionGroup var options: GlobalOptions
        func run() async throws { try await options.printRouting { try await $0.aliases() } }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create or replace an alias, e.g. models set fast gpt-4o-mini claude-haiku-4-5.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The alias clients ask for.") var name: String
        @Argument(help: "Its target models, in order.") var targets: [String]
        @Option(help: "Comma-separated weights, one per target (e.g. 3,1): traffic shared in proportion.") var weights: String?
        @Option(help: "Attempts after the first for a request to this alias (instead of the global max_failovers).") var maxFailovers: Int?

        func run() async throws {
            let shares = weights.map { $0.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) } }
            if let shares, shares.count != targets.count || shares.contains(nil) {
                throw ValidationError("--weights needs one whole number per target")
            }
            var json: [String: JSONValue] = [
                "targets": .array(
                    targets.enumerated().map { index, model in
                        guard let weight = shares?[index] else { return .string(model) }
                        return .object(["model": .string(model), "weight": .number(Double(weight))])
                    })
            ]
            if let maxFailovers { json["max_failovers"] = .number(Double(maxFailovers)) }
            try await options.printRouting { [json] in try await $0.setAlias(name, json) }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an alias.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The alias.") var name: String
        func run() async throws {
            try await options.withRouting { try await $0.deleteAlias(name) }
            print("Deleted alias \(name).")
        }
    }
}

extension GlobalOptions {
    func withRouting<T>(_ body: (RoutingAdmin) async throws -> T) async throws -> T {
        try await withAdmin({ RoutingAdmin(store: $0.store) }, body)
    }

    /// Runs an operation on aliases or providers and prints its answer as JSON.
    func printRouting<T: Encodable>(_ body: (RoutingAdmin) async throws -> T) async throws {
        let value = try await withRouting(body)
        print(String(decoding: try AdminJSON.encode(value, pretty: true), as: UTF8.self))
    }
}
