import ArgumentParser
import Foundation
import SwitchboardApp

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the keys clients use.", subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key and print it once.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "A unique name for the key.") var name: String
        @Option(help: "Days until the key expires.") var expiresInDays: Int?

        func run() async throws {
            let expiry = expiresInDays.map { Date().addingTimeInterval(Double($0) * 86400) }
            let (record, plaintext) = try await options.withStore { try await Admin(context: $0).createKey(name: name, expiresAt: expiry) }
            print(plaintext)
            FileHandle.standardError.write(Data("Created key \(record.name). This is the only time it is shown; store it now.\n".utf8))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (never the keys themselves).")
        @OptionGroup var options: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let keys = try await options.withStore { try await Admin(context: $0).listKeys() }
            let now = Date()
            let rows = keys.map { key -> [String: String] in
                [
                    "name": key.name, "key": key.prefix + "…" + key.lastFour, "state": key.state(now: now),
                    "created": Format.time(key.createdAt), "last_used": key.lastUsedAt.map(Format.time) ?? "never",
                    "expires": key.expiresAt.map(Format.time) ?? "never", "source": key.source,
                ]
            }
            if json { return Format.printJSON(rows) }
            Format.printTable(rows, columns: ["name", "key", "state", "created", "last_used", "expires", "source"])
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key; it stops working within a second.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The key's name.") var name: String

        func run() async throws {
            let found = try await options.withStore { try await Admin(context: $0).revokeKey(name: name) }
            guard found else { throw ValidationError("no key named \(name)") }
            print("Revoked key \(name).")
        }
    }
}
