import FuzzSupport
import RankdConfig
import RankdCore

/// rankd.yaml and policy.yaml text: every problem must come back as a `ConfigProblem` (or a
/// thrown error naming it), never a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let problems = ProblemList()
    _ = PolicyLoader.parse(yaml: text, file: "policy.yaml", problems: problems)
    _ = try? ConfigurationLoader.load(yaml: text, file: "rankd.yaml", baseDirectory: "/nonexistent", environment: [:])
    _ = ProbeSuiteLoader.parse(yaml: text, file: "probe.yaml", problems: ProblemList())
    return 0
}

@_cdecl("FuzzConfig_main")
public func fuzzConfigMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv) { fuzzConfig($0, $1) }
}
