import RankdCore

/// A compact binary form of a list of minute buckets, for the live-telemetry journal: one blob per
/// group commit instead of a row per bucket. Little-endian; version byte first. Every read is
/// bounds-checked: a damaged blob is an error, never a crash.
///
/// Layout: `u8 version (1)`, `u32 count`, then per bucket: `u16 id length`, id (UTF-8),
/// `i64 minute`, `u8 source (0 probe, 1 live)`, `i64 tool-call requests`, `u8 outcome pairs`,
/// pairs of `u8 outcome index, i64 count`, then two histograms (TTFT, throughput), each
/// `u32 bins` and pairs of `i32 bin, i64 count`.
enum BucketCodec {
    static let version: UInt8 = 1

    static func encode(_ buckets: [MinuteBucket]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(buckets.count * 96)
        out.append(version)
        append(UInt32(clamping: buckets.count), to: &out)
        for bucket in buckets {
            let id = Array(bucket.endpointID.utf8.prefix(Int(UInt16.max)))
            append(UInt16(id.count), to: &out)
            out += id
            append(bucket.minute, to: &out)
            out.append(bucket.source == .probe ? 0 : 1)
            append(bucket.tally.toolCallRequests, to: &out)
            let counts = bucket.tally.outcomeCounts.enumerated().filter { $0.element != 0 }
            out.append(UInt8(counts.count))
            for (index, count) in counts {
                out.append(UInt8(index))
                append(count, to: &out)
            }
            for histogram in [bucket.tally.ttftMilliseconds, bucket.tally.outputTokensPerSecond] {
                let pairs = histogram.sortedPairs
                append(UInt32(pairs.count), to: &out)
                for pair in pairs {
                    append(Int32(clamping: pair[0]), to: &out)
                    append(pair[1], to: &out)
                }
            }
        }
        return out
    }

    struct Damaged: Error, CustomStringConvertible {
        var description: String
    }

    /// The buckets of a blob; with `partitions` above 1, only those whose endpoint falls in
    /// `partition` (by `partition(ofID:partitions:)`), the others skipped unread but bounds-checked.
    static func decode(_ bytes: [UInt8], partition: Int = 0, of partitions: Int = 1) throws -> [MinuteBucket] {
        var reader = Reader(bytes: bytes)
        guard try reader.byte() == version else { throw Damaged(description: "unknown journal format") }
        let count = Int(try reader.integer(UInt32.self))
        var buckets: [MinuteBucket] = []
        buckets.reserveCapacity(min(count, bytes.count / 16) / max(1, partitions))
        for _ in 0..<count {
            let idLength = Int(try reader.integer(UInt16.self))
            let idBytes = try reader.bytes(idLength)
            if partitions > 1, Self.partition(ofID: idBytes, partitions: partitions) != partition {
                try reader.skipBucketAfterID()
                continue
            }
            let id = String(decoding: idBytes, as: UTF8.self)
            let minute = try reader.integer(Int64.self)
            let source: ObservationSource = try reader.byte() == 0 ? .probe : .live
            let toolCallRequests = try reader.integer(Int64.self)
            var outcomes: [Outcome: Int64] = [:]
            for _ in 0..<Int(try reader.byte()) {
                let index = Int(try reader.byte())
                guard index < Outcome.allCases.count else { throw Damaged(description: "outcome index \(index)") }
                outcomes[Outcome.allCases[index]] = try reader.integer(Int64.self)
            }
            var histograms: [LogHistogram] = []
            for _ in 0..<2 {
                let bins = try reader.histogramBinCount()
                var pairs: [[Int64]] = []
                pairs.reserveCapacity(bins)
                for _ in 0..<bins { pairs.append([Int64(try reader.integer(Int32.self)), try reader.integer(Int64.self)]) }
                histograms.append(LogHistogram(sortedPairs: pairs))
            }
            let tally = Tally(
                outcomeCounts: outcomes, toolCallRequests: toolCallRequests, ttftMilliseconds: histograms[0],
                outputTokensPerSecond: histograms[1])
            buckets.append(MinuteBucket(endpointID: id, minute: minute, source: source, tally: tally))
        }
        guard reader.atEnd else { throw Damaged(description: "trailing bytes") }
        return buckets
    }

    /// Which of `partitions` an endpoint's buckets fall in: FNV-1a of its id's UTF-8 bytes, the
    /// same in every blob and every process.
    static func partition(ofID id: some Collection<UInt8>, partitions: Int) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in id {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return Int(hash % UInt64(max(1, partitions)))
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0

        var atEnd: Bool { offset == bytes.count }

        mutating func bytes(_ count: Int) throws -> ArraySlice<UInt8> {
            guard count >= 0, bytes.count - offset >= count else { throw Damaged(description: "cut short at byte \(offset)") }
            defer { offset += count }
            return bytes[offset..<offset + count]
        }

        mutating func byte() throws -> UInt8 { try bytes(1).first! }

        /// Steps over one bucket's fields after its id, with the bounds checks `decode` makes.
        mutating func skipBucketAfterID() throws {
            _ = try bytes(8 + 1 + 8)  // minute, source, tool-call requests
            _ = try bytes(Int(try byte()) * 9)  // (outcome index, count) pairs
            for _ in 0..<2 { _ = try bytes(try histogramBinCount() * 12) }  // (bin, count) pairs
        }

        /// A histogram's bin count, refused above 4,096 (a damaged length).
        mutating func histogramBinCount() throws -> Int {
            let bins = Int(try integer(UInt32.self))
            guard bins <= 4_096 else { throw Damaged(description: "\(bins) histogram bins") }
            return bins
        }

        mutating func integer<T: FixedWidthInteger>(_: T.Type) throws -> T {
            var value: T = 0
            for (shift, byte) in try bytes(MemoryLayout<T>.size).enumerated() {
                value |= T(truncatingIfNeeded: byte) << (shift * 8)
            }
            return value
        }
    }
}
