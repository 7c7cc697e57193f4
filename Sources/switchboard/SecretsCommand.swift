import ArgumentParser
import Crypto
import Storage
import SwitchboardApp

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

struct Secrets: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage the master key that seals upstream secrets.", subcommands: [Rotate.self])

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-seal every account secret under a new master key.",
            discussion: """
                With a key file (master.key in the data directory), a new key is generated, every secret is re-sealed in \
                one transaction, and the file is replaced; running servers follow the new file by themselves. With \
                SWITCHBOARD_MASTER_KEY, give the new key with --new-key-env and restart servers with it.
                """)
        @OptionGroup var options: GlobalOptions
        @Option(help: "Environment variable holding the new master key (32 bytes, base64 or hex).") var newKeyEnv: String?

        func run() async throws {
            var newKey: SymmetricKey?
            if let newKeyEnv {
                guard let text = ProcessInfo.processInfo.environment[newKeyEnv], let key = MasterKeyLoader.parse(text) else {
                    throw ValidationError("\(newKeyEnv) must hold a 32-byte key as base64 or hex (`openssl rand -base64 32`)")
                }
                newKey = key
            }
            let config = try options.load()
            let directory = try config.resolvedDataDirectory()
            let rotation = try await options.withStore { context in
                try await Admin(context: context).rotateMasterKey(newKey: newKey, dataDirectory: directory)
            }
            print("Re-sealed \(rotation.resealed) account secret(s) under master key \(rotation.newKeyID).")
            if rotation.capturesResealed > 0 { print("Re-sealed \(rotation.capturesResealed) captured request(s) too.") }
            if !rotation.unopenable.isEmpty {
                print("Left unchanged (their secret did not open under the old key either): \(rotation.unopenable.joined(separator: ", ")).")
            }
            if config.masterKey != nil {
                print("Set SWITCHBOARD_MASTER_KEY to the new key and restart every server.")
            }
        }
    }
}
