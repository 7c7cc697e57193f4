import Admin
import ArgumentParser
import Engine
import Storage
import SwitchboardApp

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `switchboard capture REQUEST_ID`: a captured key's bodies, opened with the master key.
struct Capture: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a captured request's bodies (keys under capture: in the config), as GET /admin/requests/{id}/capture does.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The request id (x-request-id).") var requestID: String

    func run() async throws {
        let exchange = try await options.withStore { context in
            do {
                return try await RequestAdmin(store: context.store, open: { [box = context.box] in try box.open($0) }).capture(requestID)
            } catch let error as AdminError {
                throw ValidationError(error.description)
            }
        }
        print(String(decoding: try AdminJSON.encode(exchange, pretty: true), as: UTF8.self))
    }
}
