import Foundation
import Logging
import SwitchboardApp

@testable import Storage

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

/// The engines a store test runs on: SQLite always; PostgreSQL when
/// `SWITCHBOARD_TEST_POSTGRES` names a server (`scripts/test` starts one), each
/// test in a database of its own.
enum StoreEngine: CaseIterable {
    case sqlite
    case postgres

    /// The server's maintenance database URL, e.g. postgres://postgres@127.0.0.1:55432/postgres?sslmode=disable.
    static var postgresURL: String? {
        ProcessInfo.processInfo.environment["SWITCHBOARD_TEST_POSTGRES"].flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// Opens the store at a location `withStore` handed out: a file path or a `postgres://` URL.
func openStore(_ location: String) async throws -> SQLStore {
    location.hasPrefix("postgres://")
        ? try await SQLStore.openPostgres(url: location, logger: quietLogger())
        : try await SQLStore.openSQLite(path: location, logger: quietLogger())
}

/// A migrated store, fresh, with its location (a file path or a database URL),
/// once on each engine; closed and removed after.
func withStore(engines: [StoreEngine] = StoreEngine.allCases, _ body: (any GatewayStore, String) async throws -> Void) async throws {
    for engine in engines {
        switch engine {
        case .sqlite:
            let directory = try makeTemporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            try await withOpenStore(at: directory + "/db/switchboard.db", body)
        case .postgres:
            guard let server = StoreEngine.postgresURL else { continue }
            let name = "switchboard_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
            let admin = try await openStore(server)
            _ = try await admin.query("CREATE DATABASE \(name)")
            do {
                try await withOpenStore(at: databaseURL(server, name: name), body)
            } catch {
                _ = try? await admin.query("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
                try? await admin.close()
                throw error
            }
            _ = try await admin.query("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
            try await admin.close()
        }
    }
}

/// The URL of another database on the server `url` names.
func databaseURL(_ url: String, name: String) -> String {
    var components = URLComponents(string: url)!
    components.path = "/" + name
    return components.string!
}

private func withOpenStore(at location: String, _ body: (any GatewayStore, String) async throws -> Void) async throws {
    let store = try await openStore(location)
    try await store.migrate()
    do {
        try await body(store, location)
    } catch {
        try? await store.close()
        throw error
    }
    try await store.close()
}
