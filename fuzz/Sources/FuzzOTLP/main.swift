import FuzzSupport
import Foundation
import RankdCore
import RankdOTLP

/// POST /v1/traces bodies: the same bytes as OTLP protobuf and as OTLP JSON, and every span read
/// as a GenAI span (what the route does with an export).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOTLP(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let body = Data(bytes: data, count: size)
    var spans = (try? OTLPProtobuf.spans(body)) ?? []
    if let json = JSONValue.parse(body), let more = try? OTLPJSONReader.spans(json) { spans += more }
    for item in spans { _ = GenAISpanReader.read(item.span, resource: item.resource) }
    return 0
}

@_cdecl("FuzzOTLP_main")
public func fuzzOTLPMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv) { fuzzOTLP($0, $1) }
}
