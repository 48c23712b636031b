import Foundation

/// A sparse histogram with logarithmic bins (each bin ~5% wide), for latencies and throughputs.
///
/// Bins hold integer counts, so histograms can be added and subtracted exactly: a rolling window
/// is kept by adding each minute as it arrives and subtracting it as it leaves.
///
/// Storage is one sorted array of packed words (bin in the top 16 bits, count in the low 48): a
/// minute tally with 40 distinct bins is 320 bytes plus one array header, where a dictionary took
/// about four times that, and merging two histograms is one linear walk of both.
public struct LogHistogram: Hashable, Sendable {
    /// Relative width of one bin.
    public static let growth = 1.05
    private static let logGrowth = log(growth)

    /// Values are clamped to this range before binning, so bins fit in 16 bits.
    static let smallestValue = 0.001
    static let largestValue = 1e9

    /// Sorted by bin, no zero counts: equal histograms have equal storage (Hashable relies on it).
    private var words: [UInt64]
    public private(set) var count: Int64

    private static let countBits: UInt64 = 48
    private static let countMask: UInt64 = (1 << countBits) - 1
    /// Added to a bin so it sorts as an unsigned number (bins are about -142...425).
    private static let binOffset: Int32 = 32_768

    private static func pack(bin: Int32, count: Int64) -> UInt64 {
        UInt64(UInt16(truncatingIfNeeded: bin + binOffset)) << countBits | min(UInt64(clamping: count), countMask)
    }
    private static func bin(ofWord word: UInt64) -> Int32 { Int32(word >> countBits) - binOffset }
    private static func count(ofWord word: UInt64) -> Int64 { Int64(word & countMask) }

    public init() {
        words = []
        count = 0
    }

    private init(words: [UInt64], count: Int64) {
        self.words = words
        self.count = count
    }

    public init(bins: [Int32: Int64]) {
        var words: [UInt64] = []
        words.reserveCapacity(bins.count)
        var total: Int64 = 0
        for (bin, n) in bins.sorted(by: { $0.key < $1.key }) where n > 0 {
            let clamped = Self.clampedBin(bin)
            if let last = words.last, Self.bin(ofWord: last) == clamped {
                words[words.count - 1] = Self.pack(bin: clamped, count: Self.count(ofWord: last).saturatingAdd(n))
            } else {
                words.append(Self.pack(bin: clamped, count: n))
            }
            total = total.saturatingAdd(n)
        }
        self.words = words
        count = total
    }

    /// Bin index to count (a copy; the histogram does not store a dictionary).
    public var bins: [Int32: Int64] {
        var result: [Int32: Int64] = [:]
        result.reserveCapacity(words.count)
        for word in words { result[Self.bin(ofWord: word)] = Self.count(ofWord: word) }
        return result
    }

    /// Number of distinct bins held.
    public var binCount: Int { words.count }

    /// Records a value (clamped to 0.001...1e9; negative and non-finite values are ignored).
    public mutating func record(_ value: Double) {
        guard value.isFinite, value >= 0 else { return }
        add(bin: Self.bin(of: value), count: 1)
    }

    private mutating func add(bin: Int32, count n: Int64) {
        // Binary search for the bin's place.
        var low = 0
        var high = words.count
        while low < high {
            let middle = (low + high) / 2
            if Self.bin(ofWord: words[middle]) < bin { low = middle + 1 } else { high = middle }
        }
        if low < words.count, Self.bin(ofWord: words[low]) == bin {
            words[low] = Self.pack(bin: bin, count: Self.count(ofWord: words[low]) + n)
        } else {
            words.insert(Self.pack(bin: bin, count: n), at: low)
        }
        count += n
    }

    static func bin(of value: Double) -> Int32 {
        let clamped = min(max(value, smallestValue), largestValue)
        return Int32((log(clamped) / logGrowth).rounded(.down))
    }

    static let lowestBin = bin(of: smallestValue)
    static let highestBin = bin(of: largestValue)
    private static func clampedBin(_ bin: Int32) -> Int32 { min(max(bin, lowestBin), highestBin) }

    /// The representative value of a bin: its geometric midpoint.
    static func value(ofBin bin: Int32) -> Double {
        pow(growth, Double(bin) + 0.5)
    }

    public mutating func add(_ other: LogHistogram) {
        // Empty sides are common (an endpoint with live traffic and no probes yet): share the
        // other's storage instead of rebuilding it.
        guard !other.words.isEmpty else { return }
        guard !words.isEmpty else {
            self = other
            return
        }
        if other.words.count == 1 {
            add(bin: Self.bin(ofWord: other.words[0]), count: other.count)
            return
        }
        // Most merges add a histogram whose bins this one already has (the same endpoint, the
        // next minute): count them up in place, with no new storage.
        if addInPlace(other) { return }
        var merged: [UInt64] = []
        merged.reserveCapacity(words.count + other.words.count)
        var i = 0
        var j = 0
        while i < words.count, j < other.words.count {
            let a = Self.bin(ofWord: words[i])
            let b = Self.bin(ofWord: other.words[j])
            if a < b {
                merged.append(words[i])
                i += 1
            } else if b < a {
                merged.append(other.words[j])
                j += 1
            } else {
                merged.append(Self.pack(bin: a, count: Self.count(ofWord: words[i]) + Self.count(ofWord: other.words[j])))
                i += 1
                j += 1
            }
        }
        merged.append(contentsOf: words[i...])
        merged.append(contentsOf: other.words[j...])
        words = merged
        count += other.count
    }

    /// Adds `other` in place when every bin of it is already here; false (and nothing changed)
    /// otherwise.
    private mutating func addInPlace(_ other: LogHistogram) -> Bool {
        var i = 0
        for word in other.words {
            let bin = Self.bin(ofWord: word)
            while i < words.count, Self.bin(ofWord: words[i]) < bin { i += 1 }
            guard i < words.count, Self.bin(ofWord: words[i]) == bin else { return false }
            i += 1
        }
        i = 0
        for word in other.words {
            let bin = Self.bin(ofWord: word)
            while Self.bin(ofWord: words[i]) < bin { i += 1 }
            words[i] = Self.pack(bin: bin, count: Self.count(ofWord: words[i]) + Self.count(ofWord: word))
            i += 1
        }
        count += other.count
        return true
    }

    /// Removes counts previously added; a bin that reaches zero is dropped. In place.
    public mutating func subtract(_ other: LogHistogram) {
        guard !other.words.isEmpty, !words.isEmpty else { return }
        var j = 0
        var kept = 0
        var total: Int64 = 0
        for index in words.indices {
            let word = words[index]
            let bin = Self.bin(ofWord: word)
            while j < other.words.count, Self.bin(ofWord: other.words[j]) < bin { j += 1 }
            var n = Self.count(ofWord: word)
            if j < other.words.count, Self.bin(ofWord: other.words[j]) == bin {
                n -= Self.count(ofWord: other.words[j])
                j += 1
            }
            if n > 0 {
                words[kept] = n == Self.count(ofWord: word) ? word : Self.pack(bin: bin, count: n)
                kept += 1
                total += n
            }
        }
        words.removeLast(words.count - kept)
        count = total
    }

    /// The value at quantile `q` (0...1), or nil when empty. Accurate to one bin (~5%).
    public func quantile(_ q: Double) -> Double? {
        guard count > 0 else { return nil }
        return value(at: q)
    }

    /// The values at two quantiles (p50 and p90 at every epoch).
    public func quantiles(_ first: Double, _ second: Double) -> (Double?, Double?) {
        guard count > 0 else { return (nil, nil) }
        return (value(at: first), value(at: second))
    }

    private func value(at q: Double) -> Double {
        let target = max(1, Int64((q * Double(count)).rounded(.up)))
        var seen: Int64 = 0
        for word in words {
            seen += Self.count(ofWord: word)
            if seen >= target { return Self.value(ofBin: Self.bin(ofWord: word)) }
        }
        return Self.value(ofBin: Self.bin(ofWord: words[words.count - 1]))
    }

    /// Calls `body` with each bin and its count, bins ascending (no copy of the storage).
    func forEachBin(_ body: (Int32, Int64) -> Void) {
        for word in words { body(Self.bin(ofWord: word), Self.count(ofWord: word)) }
    }

    /// A histogram from bins in ascending order with positive counts, as `forEachBin` gives
    /// them (`TallyPacking` reads back what it wrote); nil when they are not.
    init?(ascendingBins count: Int, _ next: () -> (bin: Int32, count: Int64)?) {
        var words: [UInt64] = []
        words.reserveCapacity(count)
        var total: Int64 = 0
        var previous = Int32.min
        for _ in 0..<count {
            guard let (bin, n) = next(), bin > previous, bin >= Self.lowestBin, bin <= Self.highestBin, n > 0,
                n <= Int64(Self.countMask), total <= Int64.max - n
            else { return nil }
            words.append(Self.pack(bin: bin, count: n))
            total += n
            previous = bin
        }
        self.init(words: words, count: total)
    }

    /// Bins as sorted `[bin, count]` pairs: a compact, deterministic form for storage.
    public var sortedPairs: [[Int64]] {
        words.map { [Int64(Self.bin(ofWord: $0)), Self.count(ofWord: $0)] }
    }

    public init(sortedPairs: [[Int64]]) {
        // What rankd stores is already sorted, one pair per bin, counts positive: build the
        // words directly (start-up reads hundreds of thousands of these). Anything else is
        // normalised through a dictionary.
        var words: [UInt64] = []
        words.reserveCapacity(sortedPairs.count)
        var total: Int64 = 0
        var previous = Int64.min
        var canonical = true
        for pair in sortedPairs {
            guard pair.count == 2, pair[0] > previous, pair[0] >= Int64(Self.lowestBin), pair[0] <= Int64(Self.highestBin),
                pair[1] > 0, pair[1] < Int64(Self.countMask), total < Int64.max - pair[1]
            else {
                canonical = false
                break
            }
            words.append(Self.pack(bin: Int32(pair[0]), count: pair[1]))
            total += pair[1]
            previous = pair[0]
        }
        if canonical {
            self.init(words: words, count: total)
            return
        }
        var bins: [Int32: Int64] = [:]
        for pair in sortedPairs where pair.count == 2 {
            let bin = Int32(clamping: pair[0])
            bins[bin] = (bins[bin] ?? 0).saturatingAdd(pair[1])
        }
        self.init(bins: bins)
    }
}

extension Int64 {
    /// `self + other`, stopping at the largest value instead of trapping (counts from storage).
    fileprivate func saturatingAdd(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }
}

/// Stored and exchanged as sorted `[bin, count]` pairs.
extension LogHistogram: Codable {
    public init(from decoder: any Decoder) throws {
        self.init(sortedPairs: try decoder.singleValueContainer().decode([[Int64]].self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(sortedPairs)
    }
}
