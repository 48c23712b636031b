// swift-tools-version: 6.1
import PackageDescription

// Layering (imports only point down; docs/ARCHITECTURE.md draws it):
//   rankd (CLI) -> RankdDaemon, RankdMock
//   RankdDaemon -> RankdServer, RankdStore, RankdProber, RankdConfig, RankdPlatform, RankdCluster
//   RankdCluster (PostgreSQL, postgres-nio) -> RankdConfig, RankdCore
//   RankdMock -> RankdConfig, RankdOTLP        (only the CLI links the mock provider)
//   RankdServer -> RankdOTLP, RankdPlatform;  RankdStore -> RankdPlatform (GRDB)
//   RankdPlatform (thread priority, jemalloc, zlib, threads) -> RankdCore
//   RankdConfig (Yams), RankdOTLP, RankdProber (libcurl) -> RankdCore
// RankdCore is pure: Foundation at most; no I/O, no clock, no threads, no global randomness.
let upcoming: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "rankd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "rankd", targets: ["rankd"]),
        // For the fuzz targets of fuzz/ (a separate package built with -sanitize=fuzzer).
        .library(name: "RankdCore", targets: ["RankdCore"]),
        .library(name: "RankdConfig", targets: ["RankdConfig"]),
        .library(name: "RankdOTLP", targets: ["RankdOTLP"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        .target(name: "RankdCore", swiftSettings: upcoming),
        .systemLibrary(
            name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // The daemon's allocator (see RankdPlatform's Malloc.swift).
        .systemLibrary(name: "CJemalloc", path: "Sources/CJemalloc", providers: [.apt(["libjemalloc-dev"])]),
        .target(
            name: "RankdPlatform",
            dependencies: ["RankdCore", "CZlib", "CJemalloc", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: upcoming),
        .target(
            name: "RankdProber",
            dependencies: [
                "RankdCore", "CCurl",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: upcoming),
        .target(
            name: "RankdConfig",
            dependencies: ["RankdCore", .product(name: "Yams", package: "Yams")],
            swiftSettings: upcoming),
        .target(
            name: "RankdStore",
            dependencies: ["RankdCore", "RankdPlatform", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: upcoming),
        .target(
            name: "RankdMock",
            dependencies: [
                "RankdCore", "RankdConfig", "RankdOTLP", .product(name: "Yams", package: "Yams"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: upcoming),
        .target(
            name: "RankdServer",
            dependencies: [
                "RankdCore", "RankdOTLP", "RankdPlatform",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: upcoming),
        .executableTarget(
            name: "rankd-epoch-bench",
            dependencies: ["RankdCore", "RankdConfig", "RankdPlatform", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: upcoming),
        .executableTarget(
            name: "rankd-startup-bench",
            dependencies: ["RankdCore", "RankdStore", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: upcoming),
        .executableTarget(
            name: "rankd-postgres-baseline",
            dependencies: [.product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log")],
            swiftSettings: upcoming),
        .executableTarget(
            name: "rankd-ingest-bench",
            dependencies: [.product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: upcoming),
        .target(
            name: "RankdOTLP",
            dependencies: ["RankdCore", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["proto"],
            swiftSettings: upcoming),
        // PostgreSQL for several replicas (storage.postgres): the shared log, epochs, leader lock.
        .target(
            name: "RankdCluster",
            dependencies: [
                "RankdCore", "RankdConfig", .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"), .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: upcoming),
        .target(
            name: "RankdDaemon",
            dependencies: [
                "RankdCore", "RankdConfig", "RankdStore", "RankdServer", "RankdProber", "RankdPlatform", "RankdCluster",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: upcoming),
        .executableTarget(
            name: "rankd",
            dependencies: [
                "RankdCore", "RankdConfig", "RankdStore", "RankdServer", "RankdDaemon", "RankdMock", "RankdPlatform",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcoming),
        .target(name: "RankdTestKit", dependencies: ["RankdCore"], swiftSettings: upcoming),
        .testTarget(
            name: "RankdCoreTests", dependencies: ["RankdCore", "RankdTestKit"], swiftSettings: upcoming),
        .testTarget(name: "RankdPlatformTests", dependencies: ["RankdPlatform"], swiftSettings: upcoming),
        .testTarget(
            name: "RankdConfigTests", dependencies: ["RankdCore", "RankdConfig", "RankdTestKit"],
            swiftSettings: upcoming),
        .testTarget(
            name: "RankdStoreTests",
            dependencies: [
                "RankdCore", "RankdStore", "RankdPlatform", "RankdTestKit", .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: upcoming),
        .testTarget(
            name: "RankdProberTests",
            dependencies: [
                "RankdCore", "RankdConfig", "RankdProber", "RankdMock", "RankdTestKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: upcoming),
        // What the daemon's HTTP and end-to-end tests share (fixtures), beside RankdTestKit.
        .target(
            name: "RankdDaemonTestKit",
            dependencies: [
                "RankdCore", "RankdConfig", "RankdDaemon", "RankdServer", "RankdStore", "RankdTestKit",
                .product(name: "Logging", package: "swift-log"), .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: upcoming),
        // HTTP: the daemon in process, over `app.test(.router)` or a loopback socket, and the stores
        // under it; runs in parallel.
        .testTarget(
            name: "RankdHTTPTests",
            dependencies: [
                "RankdCore", "RankdServer", "RankdDaemon", "RankdDaemonTestKit", "RankdConfig", "RankdStore", "RankdTestKit", "RankdOTLP",
                "RankdPlatform", "RankdCluster",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcoming),
        // End to end: rankd processes, Chromium, Go, systemd, Python, timing under load; serial.
        .testTarget(
            name: "RankdEndToEndTests",
            dependencies: [
                "RankdCore", "RankdServer", "RankdDaemon", "RankdDaemonTestKit", "RankdConfig", "RankdStore", "RankdTestKit", "RankdMock",
                "RankdProber", "RankdOTLP", "RankdPlatform",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcoming),
    ]
)
