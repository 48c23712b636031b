import Foundation
import RankdCore

/// A compact binary form of accepted records for the shared log (`rankd_log.body`): every
/// replica decodes what any replica accepted. Little-endian; version byte first; every read is
/// bounds-checked, so a damaged row is an error, never a crash.
///
/// Layout: `u8 version (1)`, `u32 count`, then per record: `u16` request id length and its UTF-8,
/// `u16` endpoint id length and its UTF-8, `f64 time`, `u8 source (0 probe, 1 live)`, `u8 outcome
/// index`, `u8 flags` (bit 0 tools offered; bits 1-4: TTFT, latency, throughput, Retry-After
/// present), then the present values as `f64`, in that order.
public enum LogCodec {
    static let version: UInt8 = 1

    public static func encode(_ records: [(requestID: String, observation: Observation)]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(records.count * 80 + 5)
        out.append(version)
        append(UInt32(clamping: records.count), to: &out)
        for (requestID, observation) in records {
            appendString(requestID, to: &out)
            appendString(observation.endpointID, to: &out)
            append(observation.time.secondsSince1970.bitPattern, to: &out)
            out.append(observation.source == .probe ? 0 : 1)
            out.append(UInt8(observation.outcome.index))
            let values = [
                observation.ttftMilliseconds, observation.latencyMilliseconds, observation.outputTokensPerSecond,
                observation.retryAfterSeconds,
            ]
            var flags: UInt8 = observation.toolsOffered ? 1 : 0
            for (bit, value) in values.enumerated() where value != nil { flags |= 1 << (bit + 1) }
            out.append(flags)
            for value in values { if let value { append(value.bitPattern, to: &out) } }
        }
        return out
    }

    public struct Damaged: Error, CustomStringConvertible {
        public var description: String
    }

    public static func decode(_ bytes: some Collection<UInt8>) throws -> [(requestID: String, observation: Observation)] {
        var reader = Reader(bytes: Array(bytes))
        guard try reader.byte() == version else { throw Damaged(description: "unknown log format") }
        let count = Int(try reader.integer(UInt32.self))
        var records: [(requestID: String, observation: Observation)] = []
        records.reserveCapacity(min(count, reader.bytes.count / 24))
        for _ in 0..<count {
            let requestID = try reader.string()
            let endpointID = try reader.string()
            let time = Double(bitPattern: try reader.integer(UInt64.self))
            let source: ObservationSource = try reader.byte() == 0 ? .probe : .live
            let index = Int(try reader.byte())
            guard index < Outcome.allCases.count else { throw Damaged(description: "outcome index \(index)") }
            let flags = try reader.byte()
            var values: [Double?] = []
            for bit in 0..<4 {
                values.append(flags & (1 << (bit + 1)) != 0 ? Double(bitPattern: try reader.integer(UInt64.self)) : nil)
            }
            records.append(
                (
                    requestID,
                    Observation(
                        endpointID: endpointID, time: Timestamp(secondsSince1970: time), source: source, outcome: Outcome.allCases[index],
                        toolsOffered: flags & 1 != 0, ttftMilliseconds: values[0], latencyMilliseconds: values[1],
                        outputTokensPerSecond: values[2], retryAfterSeconds: values[3])
                ))
        }
        guard reader.offset == reader.bytes.count else { throw Damaged(description: "trailing bytes") }
        return records
    }

    private static func appendString(_ text: String, to out: inout [UInt8]) {
        let bytes = Array(text.utf8.prefix(Int(UInt16.max)))
        append(UInt16(bytes.count), to: &out)
        out += bytes
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0

        mutating func take(_ count: Int) throws -> ArraySlice<UInt8> {
            guard bytes.count - offset >= count else { throw Damaged(description: "cut short at byte \(offset)") }
            defer { offset += count }
            return bytes[offset..<offset + count]
        }

        mutating func byte() throws -> UInt8 { try take(1).first! }

        mutating func integer<T: FixedWidthInteger>(_: T.Type) throws -> T {
            var value: T = 0
            for (shift, byte) in try take(MemoryLayout<T>.size).enumerated() { value |= T(byte) << (shift * 8) }
            return value
        }

        mutating func string() throws -> String {
            let length = Int(try integer(UInt16.self))
            return String(decoding: try take(length), as: UTF8.self)
        }
    }
}
