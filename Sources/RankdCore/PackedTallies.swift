/// A `SourceTallies` packed into one small byte array, for the window tallies that no longer
/// change: minutes past, and the hour spans of the long window.
///
/// An endpoint with traffic holds about 15 minute and 25 span tallies. Unpacked, a busy minute is
/// about 760 bytes (a 12-count array and two histograms of 8-byte words, each its own heap block
/// with room to grow); packed, about 190. Counts and bins are LEB128 varints, bins as differences
/// from the previous bin, so a histogram bin costs about 2-3 bytes instead of 8.
///
/// Layout, probe then live: a varint mask of the outcomes with a count, those counts, the tool-call
/// requests, then the TTFT and throughput histograms, each its bin count and (zigzag bin delta,
/// count) pairs. Only `PackedTallies` writes it and reads it back, within one process.
struct PackedTallies: Sendable {
    private let bytes: [UInt8]

    /// Empty tallies, packed once and shared (most endpoints' windows are empty at some time).
    static let empty = PackedTallies(packing: SourceTallies())

    init(_ tallies: SourceTallies) {
        self = tallies == SourceTallies() ? Self.empty : PackedTallies(packing: tallies)
    }

    private init(packing tallies: SourceTallies) {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        Self.append(tallies.probe, to: &out)
        Self.append(tallies.live, to: &out)
        // A copy of exactly the bytes written: the array grew by doubling, and this lives long.
        bytes = [UInt8](unsafeUninitializedCapacity: out.count) { buffer, initialized in
            _ = buffer.initialize(from: out)
            initialized = out.count
        }
    }

    /// Bytes held (not counting the array's header).
    var byteCount: Int { bytes.count }

    var isEmpty: Bool { bytes == Self.empty.bytes }

    func unpacked() -> SourceTallies {
        if isEmpty { return SourceTallies() }
        var reader = Reader(bytes: bytes)
        let probe = reader.tally()
        let live = reader.tally()
        precondition(reader.atEnd, "packed tallies have trailing bytes")
        return SourceTallies(probe: probe, live: live)
    }

    private static func append(_ tally: Tally, to out: inout [UInt8]) {
        var mask: UInt64 = 0
        for (index, count) in tally.outcomeCounts.enumerated() where count != 0 { mask |= 1 << UInt64(index) }
        appendVarint(mask, to: &out)
        for count in tally.outcomeCounts where count != 0 { appendVarint(UInt64(bitPattern: count), to: &out) }
        appendVarint(UInt64(bitPattern: tally.toolCallRequests), to: &out)
        append(tally.ttftMilliseconds, to: &out)
        append(tally.outputTokensPerSecond, to: &out)
    }

    private static func append(_ histogram: LogHistogram, to out: inout [UInt8]) {
        appendVarint(UInt64(histogram.binCount), to: &out)
        var previous: Int64 = 0
        histogram.forEachBin { bin, count in
            let delta = Int64(bin) - previous
            appendVarint(UInt64(bitPattern: (delta << 1) ^ (delta >> 63)), to: &out)
            appendVarint(UInt64(bitPattern: count), to: &out)
            previous = Int64(bin)
        }
    }

    private static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        out.append(UInt8(value))
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0

        var atEnd: Bool { offset == bytes.count }

        mutating func varint() -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                precondition(offset < bytes.count && shift < 64, "packed tallies end inside a number")
                let byte = bytes[offset]
                offset += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return value }
                shift += 7
            }
        }

        mutating func count() -> Int64 { Int64(bitPattern: varint()) }

        mutating func tally() -> Tally {
            let mask = varint()
            var counts = [Int64](repeating: 0, count: Outcome.allCases.count)
            if mask != 0 {
                for index in counts.indices where mask & (1 << UInt64(index)) != 0 { counts[index] = count() }
            }
            let toolCallRequests = count()
            let ttft = histogram()
            let throughput = histogram()
            if mask == 0 && toolCallRequests == 0 && ttft.count == 0 && throughput.count == 0 { return Tally() }
            return Tally(
                outcomeCountsByIndex: counts, toolCallRequests: toolCallRequests, ttftMilliseconds: ttft, outputTokensPerSecond: throughput)
        }

        mutating func histogram() -> LogHistogram {
            let bins = Int(varint())
            var previous: Int64 = 0
            let histogram = LogHistogram(ascendingBins: bins) {
                let zigzag = varint()
                let delta = Int64(bitPattern: zigzag >> 1) ^ -Int64(bitPattern: zigzag & 1)
                previous += delta
                return (Int32(truncatingIfNeeded: previous), count())
            }
            guard let histogram else { preconditionFailure("packed histogram bins out of order") }
            return histogram
        }
    }
}
