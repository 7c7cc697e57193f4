import Foundation
import Hummingbird
import SwitchboardTesting

// A fake provider for end-to-end tests: `fake-upstream PORT KEY[,KEY…]`.
// Prints "listening PORT" once it accepts connections.
let arguments = CommandLine.arguments
let port = arguments.count > 1 ? Int(arguments[1]) ?? 0 : 0
let keys = arguments.count > 2 ? Set(arguments[2].split(separator: ",").map(String.init)) : ["sk-upstream-1", "sk-ant-upstream-1"]
let fake = FakeUpstream(acceptedKeys: keys)
let app = fake.application(port: port) { bound in
    FileHandle.standardOutput.write(Data("listening \(bound)\n".utf8))
}
try await app.runService()
