import Foundation

/// A sparse histogram with logarithmic bins (each bin ~5% wide), for latencies and throughputs.
///
/// Bins hold integer counts, so histograms can be added and subtracted exactly: a rolling window
/// is kept by adding each minute as it arrives and subtracting it as it leaves.
public struct LogHistogram: Hashable, Codable, Sendable {
    /// Relative width of one bin.
    public static let growth = 1.05
    private static let logGrowth = log(growth)

    /// Bin index to count. Sorted arrays would be smaller; a dictionary keeps merges simple.
    public private(set) var bins: [Int32: Int64]
    public private(set) var count: Int64

    public init() {
        bins = [:]
        count = 0
    }

    public init(bins: [Int32: Int64]) {
        self.bins = bins.filter { $0.value > 0 }
        count = self.bins.values.reduce(0, +)
    }

    /// Records a value (clamped to 0.001...1e9; negative and non-finite values are ignored).
    public mutating func record(_ value: Double) {
        guard value.isFinite, value >= 0 else { return }
        bins[Self.bin(of: value), default: 0] += 1
        count += 1
    }

    static func bin(of value: Double) -> Int32 {
        let clamped = min(max(value, 0.001), 1e9)
        return Int32((log(clamped) / logGrowth).rounded(.down))
    }

    /// The representative value of a bin: its geometric midpoint.
    static func value(ofBin bin: Int32) -> Double {
        pow(growth, Double(bin) + 0.5)
    }

    public mutating func add(_ other: LogHistogram) {
        // Empty sides are common (an endpoint with live traffic and no probes yet): share the
        // other's storage instead of rebuilding it bin by bin.
        guard other.count > 0 || !other.bins.isEmpty else { return }
        guard count > 0 || !bins.isEmpty else {
            self = other
            return
        }
        for (bin, n) in other.bins { bins[bin, default: 0] += n }
        count += other.count
    }

    /// Removes counts previously added; a bin that reaches zero is dropped.
    public mutating func subtract(_ other: LogHistogram) {
        for (bin, n) in other.bins {
            let remaining = (bins[bin] ?? 0) - n
            bins[bin] = remaining > 0 ? remaining : nil
        }
        count = max(0, count - other.count)
    }

    /// The value at quantile `q` (0...1), or nil when empty. Accurate to one bin (~5%).
    public func quantile(_ q: Double) -> Double? {
        guard count > 0 else { return nil }
        let target = max(1, Int64((q * Double(count)).rounded(.up)))
        var seen: Int64 = 0
        for bin in bins.keys.sorted() {
            seen += bins[bin]!
            if seen >= target { return Self.value(ofBin: bin) }
        }
        return Self.value(ofBin: bins.keys.max()!)
    }

    /// The values at two quantiles with one sort of the bins (p50 and p90 at every epoch).
    public func quantiles(_ first: Double, _ second: Double) -> (Double?, Double?) {
        guard count > 0 else { return (nil, nil) }
        let sorted = bins.sorted { $0.key < $1.key }
        func value(_ q: Double) -> Double {
            let target = max(1, Int64((q * Double(count)).rounded(.up)))
            var seen: Int64 = 0
            for (bin, n) in sorted {
                seen += n
                if seen >= target { return Self.value(ofBin: bin) }
            }
            return Self.value(ofBin: sorted.last!.key)
        }
        return (value(first), value(second))
    }

    /// Bins as sorted `[bin, count]` pairs: a compact, deterministic form for storage.
    public var sortedPairs: [[Int64]] {
        bins.keys.sorted().map { [Int64($0), bins[$0]!] }
    }

    public init(sortedPairs: [[Int64]]) {
        var bins: [Int32: Int64] = [:]
        for pair in sortedPairs where pair.count == 2 {
            bins[Int32(clamping: pair[0]), default: 0] += pair[1]
        }
        self.init(bins: bins)
    }
}
