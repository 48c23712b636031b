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

// SwiftPM links an executable with main = FuzzTelemetry_main; libFuzzer's own main is then not linked in,
// so this one starts libFuzzer's driver with the target above.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

@_cdecl("FuzzTelemetry_main")
public func fuzzTelemetryMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var count = argc
    var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { fuzzTelemetry($0, $1) }
}
