import Foundation
import Logging
import Storage
import SwitchboardApp

/// A fresh directory under the system temporary directory, removed by the caller.
func makeTemporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "switchboard-test-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A logger that stays quiet unless something is badly wrong.
func quietLogger() -> Logger {
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    return logger
}

/// Loads a configuration from YAML text written to a temporary file.
func loadConfiguration(_ text: String, environment: [String: String] = [:]) throws -> Configuration {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let path = directory + "/switchboard.yaml"
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return try Configuration.load(file: path, environment: environment)
}

/// A migrated store in a temporary directory, with its file path; closed and removed after.
func withStore(_ body: (any GatewayStore, String) async throws -> Void) async throws {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let path = directory + "/db/switchboard.db"
    let store = try await SQLiteStore.open(path: path, logger: quietLogger())
    try await store.migrate()
    do {
        try await body(store, path)
    } catch {
        try? await store.close()
        throw error
    }
    try await store.close()
}
