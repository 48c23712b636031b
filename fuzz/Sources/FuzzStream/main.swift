import FuzzSupport
import Foundation
import RankdConfig
import RankdCore

/// A provider's answer bytes: fed as an SSE stream in pieces (the first byte picks the piece size)
/// and as a whole JSON body, then classified against every shipped probe case: stream reassembly,
/// tool-call argument parsing, the JSON Schema validator and the matchers all see hostile input.
let cases: [ProbeCase] = {
    let directory = ProcessInfo.processInfo.environment["RANKD_PROBES"]
        ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../scoring/probes").standardized.path
    let suites = ProbeSuiteLoader.loadDirectory(directory, problems: ProblemList())
    let all = suites.flatMap(\.cases)
    precondition(!all.isEmpty, "no probe cases in \(directory): set RANKD_PROBES")
    return all
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzStream(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    let piece = max(1, Int(bytes.first ?? 1) % 64)
    var stream = ChatResponseAssembler()
    var offset = 0
    while offset < bytes.count {
        _ = stream.feedStream(bytes.subdata(in: offset..<min(bytes.count, offset + piece)))
        offset += piece
    }
    var whole = ChatResponseAssembler()
    whole.feedComplete(bytes)
    let probe = cases[Int(bytes.last ?? 0) % cases.count]
    for response in [stream, whole] {
        for transport in [TransportResult.completed(status: 200, retryAfterSeconds: nil), .cutOff(status: 200)] {
            _ = ProbeValidator.classify(transport: transport, response: response, probe: probe)
        }
    }
    return 0
}

@_cdecl("FuzzStream_main")
public func fuzzStreamMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv) { fuzzStream($0, $1) }
}
