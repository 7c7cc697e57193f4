// swift-tools-version:6.1
import PackageDescription

// libFuzzer targets for the code that reads what clients and upstreams send.
// Built on its own (scripts/fuzz), with `-sanitize=fuzzer`: the main package
// never builds it.
let package = Package(
    name: "switchboard-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "switchboard", path: "..")],
    targets: [
        .executableTarget(
            name: "SwitchboardFuzz",
            dependencies: [
                .product(name: "SwitchboardFuzzing", package: "switchboard")
            ]
        )
    ]
)
