import RankdCore

/// The windows' past in memory: every minute tally handed to `add`, read back by minute as the
/// windows advance, the way the daemon's `state.db` is (minute rows only: no hour roll-up).
/// Minutes that have left the long window are dropped once read.
public struct MemoryWindowPast: WindowPast, Sendable {
    private struct Key: Hashable {
        var endpointID: String
        var source: ObservationSource
    }

    /// Tallies by minute, then by endpoint and source.
    private var minutes: [Int64: [Key: Tally]] = [:]

    public init() {}

    /// Stores tallies the windows counted (spans are spread over their first minute).
    public mutating func add(_ buckets: [MinuteBucket]) {
        for bucket in buckets {
            minutes[bucket.minute, default: [:]][Key(endpointID: bucket.endpointID, source: bucket.source), default: Tally()].add(bucket.tally)
        }
    }

    /// Minutes held.
    public var minuteCount: Int { minutes.count }

    public mutating func forEachDeparted(
        _ departures: WindowAggregator.Departures, _ body: (MinuteBucket, WindowAggregator.Departure) -> Void
    ) throws -> Int {
        var count = 0
        func read(_ range: ClosedRange<Int64>, _ side: WindowAggregator.Departure) {
            var rows: [MinuteBucket] = []
            // Walk whichever is shorter: the range's minutes or those held.
            let held: [Int64] = range.count < minutes.count ? range.filter { minutes[$0] != nil } : minutes.keys.filter { range.contains($0) }
            for minute in held {
                let tallies = minutes[minute]!
                for (key, tally) in tallies {
                    rows.append(MinuteBucket(endpointID: key.endpointID, minute: minute, source: key.source, tally: tally))
                }
            }
            // By endpoint, as the store reads them (ties in a fixed order, for determinism).
            rows.sort { ($0.endpointID, $0.minute, $0.source.rawValue) < ($1.endpointID, $1.minute, $1.source.rawValue) }
            for row in rows { body(row, side) }
            count += rows.count
        }
        if let range = departures.shortMinutes { read(range, .shortWindow) }
        for (index, range) in departures.recentMinutes.enumerated() {
            if let range { read(range, .recentWindow(index)) }
        }
        if let range = departures.longMinutes {
            read(range, .longWindow)
            // Gone from both windows: never read again (a record that old is refused as too old).
            minutes = minutes.filter { $0.key > range.upperBound }
        }
        return count
    }
}
