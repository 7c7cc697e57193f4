import Foundation
import SwitchboardFuzzing

// libFuzzer's driver, called from this program's own main: SwiftPM links an
// executable's entry point as `main`, so libFuzzer's is not used.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

/// The target this process fuzzes: `SWITCHBOARD_FUZZ_TARGET` (json, sse,
/// request, answer, retry_after).
let target: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["SWITCHBOARD_FUZZ_TARGET"] ?? "json"
    guard let target = FuzzTarget(rawValue: name) else { fatalError("unknown fuzz target \(name)") }
    return target
}()

var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(runFuzzerDriver(&argc, &argv, fuzzOneInput))

/// libFuzzer's entry for one input (its own `main` links against it).
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    target.run(UnsafeRawBufferPointer(start: data, count: count))
    return 0
}
