// swift-tools-version: 6.1
import PackageDescription

// libFuzzer targets for rankd's parsers. Not part of the main build: bash fuzz/run.sh builds them
// with -sanitize=fuzzer,address -parse-as-library (each target defines LLVMFuzzerTestOneInput;
// libFuzzer provides main) and runs each for a set time. docs/RELIABILITY.md has the last run.
let package = Package(
    name: "rankd-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "rankd", path: "..")],
    targets: [
        .target(name: "FuzzSupport"),
        .executableTarget(name: "FuzzTelemetry", dependencies: ["FuzzSupport", .product(name: "RankdCore", package: "rankd")]),
        .executableTarget(
            name: "FuzzOTLP",
            dependencies: ["FuzzSupport", .product(name: "RankdCore", package: "rankd"), .product(name: "RankdOTLP", package: "rankd")]),
        .executableTarget(
            name: "FuzzConfig",
            dependencies: ["FuzzSupport", .product(name: "RankdCore", package: "rankd"), .product(name: "RankdConfig", package: "rankd")]),
        .executableTarget(
            name: "FuzzStream",
            dependencies: ["FuzzSupport", .product(name: "RankdCore", package: "rankd"), .product(name: "RankdConfig", package: "rankd")]),
    ]
)
