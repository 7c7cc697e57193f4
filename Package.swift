// swift-tools-version:6.1
import PackageDescription

// Module layout follows ../shared/DESIGN.md: dependencies point one way,
// from the command line down to SwitchboardCore.

/// Compiler settings every target of ours shares: `any` spelled out on every
/// existential (its cost visible where it is used), and each file importing
/// the modules whose members it uses.
let sharedSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]
let package = Package(
    name: "switchboard",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "switchboard", targets: ["switchboard"]),
        .executable(name: "fake-upstream", targets: ["fake-upstream"]),
        // The parsers fuzz targets drive (Fuzz/, built with -sanitize=fuzzer by scripts/fuzz).
        .library(name: "SwitchboardFuzzing", targets: ["SwitchboardFuzzing"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.3.0"),
        // OTLP over HTTP only: the gRPC exporter's packages would double the build.
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
    ],
    targets: [
        .target(
            name: "SwitchboardCore",
            dependencies: [
                // Waits sleep on an event loop's timer (LoopTimer), not on libdispatch's.
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "Dialects",
            dependencies: [
                "SwitchboardCore",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .target(
            name: "Policy",
            dependencies: ["SwitchboardCore"],
            // The table is compiled in (BundledPrices.swift, generated from it by scripts/update-prices.py).
            exclude: ["Resources"]
        ),
        .target(
            name: "Storage",
            dependencies: [
                "SwitchboardCore",
                "Policy",
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "Upstream",
            dependencies: [
                "SwitchboardCore",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .target(
            name: "Engine",
            dependencies: [
                "CProcessMemory",
                "SwitchboardCore",
                "Dialects",
                "Policy",
                "Storage",
                "Upstream",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                // Alert webhooks (already built for swift-otel's OTLP exporter).
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .target(
            name: "Admin",
            dependencies: [
                "SwitchboardCore",
                "Policy",
                "Storage",
                "Upstream",
                "Engine",
            ]
        ),
        .target(
            name: "HTTPServer",
            dependencies: [
                "SwitchboardCore",
                "Admin",
                "Dialects",
                "Upstream",
                "Engine",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "SwitchboardApp",
            dependencies: [
                "SwitchboardCore",
                "Policy",
                "Storage",
                "Upstream",
                "Engine",
                "Admin",
                "HTTPServer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // Swift concurrency's enqueue hook, reached by the linker (EventLoopExecutor).
        .target(name: "CConcurrencyHook"),
        // Memory given back to the system (`ProcessMemory`).
        .target(name: "CProcessMemory"),
        .executableTarget(
            name: "switchboard",
            dependencies: [
                "CConcurrencyHook",
                "SwitchboardCore",
                "Storage",
                "SwitchboardApp",
                "Engine",
                "Admin",
                "Policy",
                "Upstream",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "SwitchboardFuzzing",
            dependencies: [
                "SwitchboardCore",
                "Dialects",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .target(
            name: "SwitchboardTesting",
            dependencies: [
                "SwitchboardCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "fake-upstream",
            dependencies: ["SwitchboardTesting"]
        ),
        // Selection cost with many accounts, pools and globs (bench/README.md).
        .executableTarget(
            name: "selection-bench",
            dependencies: ["Policy", "SwitchboardCore"],
            path: "bench/SelectionBench"
        ),
        // The floor under the gateway's figures: a bare SwiftNIO HTTP/1.1 proxy (bench/README.md).
        .executableTarget(
            name: "nio-floor",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "bench/NIOFloor"
        ),
        .testTarget(
            name: "SwitchboardTests",
            dependencies: [
                "SwitchboardCore",
                "Dialects",
                "Policy",
                "Storage",
                "Upstream",
                "Engine",
                "Admin",
                "HTTPServer",
                "SwitchboardApp",
                "SwitchboardTesting",
                "SwitchboardFuzzing",
                "CProcessMemory",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            resources: [.copy("Fixtures")]
        ),
    ]
)

for target in package.targets {
    target.swiftSettings = (target.swiftSettings ?? []) + sharedSettings
}
