import FuzzSupport
import RankdCore

/// POST /v1/telemetry bodies: the same bytes as JSON and as NDJSON. A thrown `Malformed` is a
/// normal answer (400); a crash, a hang or a sanitizer report is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTelemetry(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let body = UnsafeBufferPointer(start: data, count: size)
    for format in [TelemetryDecoder.Format.json, .ndjson] {
        _ = try? TelemetryDecoder.decode(body, format: format)
    }
    return 0
}

@_cdecl("FuzzTelemetry_main")
public func fuzzTelemetryMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv) { fuzzTelemetry($0, $1) }
}
