import Admin
import ArgumentParser
import SwitchboardApp

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `switchboard sessions`: sessions with their cache use and savings, as
/// `GET /admin/sessions` answers.
struct Sessions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sessions, most recently active first: requests, accounts, cache-hit ratio, cache tokens and the dollars cache reads saved.")
    @OptionGroup var options: GlobalOptions
    @Option(help: "Only this key's sessions.") var key: String?
    @Option(help: "Only this user's sessions.") var user: String?
    @Option(help: "Only sessions this account served.") var account: String?
    @Option(help: "From (ISO 8601, a UTC date, or Unix seconds; default: a day ago).") var from: String?
    @Option(help: "To (default: now).") var to: String?
    @Option(help: "The most sessions shown (1 to 500; default 50).") var limit: Int?

    func run() async throws {
        var parameters: [String: String] = [:]
        parameters["key"] = key
        parameters["user"] = user
        parameters["account"] = account
        parameters["from"] = from
        parameters["to"] = to
        parameters["limit"] = limit.map(String.init)
        let page = try await options.withAdmin({ RequestAdmin(store: $0.store) }) { requests in
            try await requests.sessions(try RequestAdmin.query(parameters))
        }
        print(String(decoding: try AdminJSON.encode(page, pretty: true), as: UTF8.self))
    }
}
