import Admin
import ArgumentParser
import Engine
import SwitchboardApp

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

struct Quarantines: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sessions and keys quarantined after an upstream flagged their account (session_quarantine).",
        subcommands: [List.self, Release.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the quarantines in force.")
        @OptionGroup var options: GlobalOptions
        func run() async throws {
            let value = try await options.withQuarantines { try await $0.list() }
            print(String(decoding: try AdminJSON.encode(value, pretty: true), as: UTF8.self))
        }
    }

    struct Release: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Release a quarantine: its session's or key's requests are served again (a running server sees it within a second).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The quarantine's id.") var id: Int64
        func run() async throws {
            let released = try await options.withQuarantines { try await $0.release(id) }
            print("Released quarantine \(released.id) (\(released.scope) of key \(released.key)).")
        }
    }
}

extension GlobalOptions {
    func withQuarantines<T>(_ body: (QuarantineAdmin) async throws -> T) async throws -> T {
        try await withAdmin({ QuarantineAdmin(store: $0.store) }, body)
    }
}
