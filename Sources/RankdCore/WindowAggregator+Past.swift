/// Where the windows' past is kept: every minute tally the windows counted, read back when it
/// leaves them. The daemon's is `state.db` (its minute and hour rows); tests use an in-memory one.
public protocol WindowPast {
    /// Calls `body` with every stored row of the minutes in `departures` (minute rows, or hour
    /// rows for whole hours of the long side), with the window each leaves, the rows of one
    /// endpoint together. Returns the rows read. Throws if the rows cannot be read; then the
    /// windows stay where they were.
    mutating func forEachDeparted(
        _ departures: WindowAggregator.Departures, _ body: (MinuteBucket, WindowAggregator.Departure) -> Void
    ) throws -> Int
}

/// The windows' totals as of one moment, read-only: what the scorer and the outlier rules read.
public struct WindowTotals: Sendable {
    private let windows: WindowAggregator

    init(_ windows: WindowAggregator) { self.windows = windows }

    /// The minute the windows end in.
    public var currentMinute: Int64 { windows.currentMinute }

    /// One endpoint's totals over the short and long windows (empty when nothing was counted).
    public func stats(for endpointID: String) -> WindowStats { windows.stats(for: endpointID) }
}

extension WindowAggregator {
    /// A read-only view of the totals now (shares the windows' storage until they change).
    public var totals: WindowTotals { WindowTotals(self) }

    /// What `record(batch:)` did with one observation.
    public enum Admission: Hashable, Sendable {
        case counted
        /// Older than the long window.
        case tooOld
        /// Not an endpoint of the registry (`known` said no).
        case unknownEndpoint
    }

    /// Counts a batch: tallies are folded per minute first and merged once per bucket (the
    /// windows cost per bucket, not per observation). `known[i]`: observation `i`'s endpoint is
    /// in the registry. `persist: false` for observations already in the past (live telemetry is
    /// journalled before it is counted).
    public mutating func record(batch observations: [Observation], known: [Bool], persist: Bool) -> [Admission] {
        let (admissions, buckets) = admissions(batch: observations, known: known)
        for bucket in buckets { record(bucket, persist: persist) }
        return admissions
    }

    /// What `record(batch:known:persist:)` would answer, and the buckets it would count, without
    /// counting them (the caller counts them later with `record(_:persist:)`, in any order).
    public func admissions(batch observations: [Observation], known: [Bool]) -> (admissions: [Admission], buckets: [MinuteBucket]) {
        precondition(known.count == observations.count, "one known flag per observation")
        var admissions = [Admission](repeating: .counted, count: observations.count)
        var kept: [Observation] = []
        kept.reserveCapacity(observations.count)
        for (index, observation) in observations.enumerated() {
            if known[index] { kept.append(observation) } else { admissions[index] = .unknownEndpoint }
        }
        var buckets = MinuteBucket.fold(kept, sorted: false)
        var tooOldMinutes: Set<Int64> = []
        buckets.removeAll { bucket in
            if admits(bucket) { return false }
            tooOldMinutes.insert(bucket.minute)
            return true
        }
        if !tooOldMinutes.isEmpty {
            for (index, observation) in observations.enumerated() where admissions[index] == .counted && tooOldMinutes.contains(observation.time.minute) {
                admissions[index] = .tooOld
            }
        }
        return (admissions, buckets)
    }

    /// Advances the windows to `now`, reading what leaves them from `past` (see
    /// `advance(to:reading:)`); if the reading throws, the windows stay as they were.
    @discardableResult
    public mutating func advance(to now: Timestamp, past: inout some WindowPast) throws -> Int {
        var rows = 0
        try advance(to: now) { departures, subtract in rows = try past.forEachDeparted(departures, subtract) }
        return rows
    }

    /// What leaves the windows when they advance to a minute: the past's rows for these are
    /// what `advance(to:reading:)` subtracts.
    public struct Departures: Hashable, Sendable {
        /// Minutes that leave the short window (they stay in the long one).
        public var shortMinutes: ClosedRange<Int64>?
        /// The minutes of the whole spans that leave the long window (`spanMinutes` each).
        public var longMinutes: ClosedRange<Int64>?
        /// Length of a span (`coarseMinutes`).
        public var spanMinutes: Int64
        /// Minutes that leave each recent window (`recentWindowMinutes`, in order).
        public var recentMinutes: [ClosedRange<Int64>?] = []

        public var isEmpty: Bool { shortMinutes == nil && longMinutes == nil && recentMinutes.allSatisfy { $0 == nil } }
    }

    /// Which side of the windows a departed row leaves.
    public enum Departure: Hashable, Sendable {
        case shortWindow
        case longWindow
        /// The recent window at this position of `recentWindowMinutes`.
        case recentWindow(Int)
    }

    /// The minutes that leave the windows if they advance to `now` (none if time did not advance).
    public func departures(to now: Timestamp) -> Departures {
        var result = Departures(
            shortMinutes: nil, longMinutes: nil, spanMinutes: coarseMinutes, recentMinutes: recentWindowMinutes.map { _ in nil })
        let newMinute = now.minute
        guard newMinute > currentMinute else { return result }
        // An exact window counted minutes from its start to the current one; those before the new start leave.
        func leaving(_ length: Int64) -> ClosedRange<Int64>? {
            let start = currentMinute - length + 1
            let last = min(currentMinute, newMinute - length)
            return start <= last ? start...last : nil
        }
        result.shortMinutes = leaving(shortWindowMinutes)
        result.recentMinutes = recentWindowMinutes.map(leaving)
        // Spans counted: from the one holding the long window's start to the one holding the current
        // minute; those that end before the new start leave, whole.
        let firstSpan = spanStart(of: longStart)
        let newLongStart = newMinute - longWindowMinutes + 1
        let lastSpan = min(spanStart(of: currentMinute), spanStart(of: newLongStart) - coarseMinutes)
        if firstSpan <= lastSpan { result.longMinutes = firstSpan...(lastSpan + coarseMinutes - 1) }
        return result
    }

    /// Advances the windows to `now`: `reading` is handed
    /// `departures(to:)` and a function to call with every stored row of those minutes (minute or
    /// hour rows, and which window each leaves); rows of one endpoint should come together (ordered
    /// by endpoint), so its totals are unpacked once. If `reading` throws, the windows are left as
    /// they were and the error is rethrown.
    public mutating func advance(
        to now: Timestamp, reading: (Departures, _ subtract: (MinuteBucket, Departure) -> Void) throws -> Void
    ) rethrows {
        let newMinute = now.minute
        guard newMinute > currentMinute else { return }
        let departures = departures(to: now)
        let step = StoreStep(
            oldMinute: currentMinute, newMinute: newMinute, shortStart: newMinute - shortWindowMinutes + 1,
            longStart: newMinute - longWindowMinutes + 1, recentStarts: recentWindowMinutes.map { newMinute - $0 + 1 }, span: coarseMinutes)
        // Each endpoint is moved once, with its departed rows: its totals are unpacked and packed
        // once a minute. What it held before is kept until the reading ends, to be put back if the
        // reading fails (not a copy of the whole table, every minute).
        var before: [String: EndpointWindows] = [:]
        var id: String?
        var short = SourceTallies()
        var long = SourceTallies()
        let noRecent = recentWindowMinutes.map { _ in SourceTallies() }
        var recent = noRecent
        func flush() {
            guard let current = id else { return }
            id = nil
            guard endpoints[current] != nil else { return }
            Self.mutate(&endpoints[current]!) { windows in
                if before[current] == nil {
                    before[current] = windows
                    step.move(&windows, subtracting: Departed(short: short, long: long, recent: recent))
                } else {
                    // Rows of an endpoint that came apart: already moved, only subtracted.
                    func subtract(_ packed: PackedTallies, _ departed: SourceTallies) -> PackedTallies {
                        var past = packed.unpacked()
                        past.subtract(departed)
                        return PackedTallies(past)
                    }
                    windows.shortPast = subtract(windows.shortPast, short)
                    windows.longPast = subtract(windows.longPast, long)
                    if !windows.recentPast.isEmpty {
                        windows.recentPast = zip(windows.recentPast, recent).map { subtract($0, $1) }
                    }
                }
            }
        }
        if !departures.isEmpty {
            do {
                try reading(departures) { bucket, side in
                    if bucket.endpointID != id {
                        flush()
                        id = bucket.endpointID
                        short = SourceTallies()
                        long = SourceTallies()
                        recent = noRecent
                    }
                    switch side {
                    case .shortWindow: short.add(bucket.tally, source: bucket.source)
                    case .longWindow: long.add(bucket.tally, source: bucket.source)
                    case .recentWindow(let index): if recent.indices.contains(index) { recent[index].add(bucket.tally, source: bucket.source) }
                    }
                }
                flush()
            } catch {
                for (key, windows) in before { endpoints[key] = windows }
                throw error
            }
        }
        currentMinute = newMinute
        // The endpoints nothing left from.
        var index = endpoints.startIndex
        while index != endpoints.endIndex {
            defer { endpoints.formIndex(after: &index) }
            if before[endpoints.keys[index]] != nil { continue }
            Self.mutate(&endpoints.values[index]) { step.move(&$0, subtracting: nil) }
        }
    }

    /// The rows that left one endpoint's windows.
    private struct Departed {
        var short: SourceTallies
        var long: SourceTallies
        var recent: [SourceTallies]
    }

    /// One endpoint's move.
    private struct StoreStep {
        let oldMinute: Int64
        let newMinute: Int64
        /// The new windows' starts.
        let shortStart: Int64
        let longStart: Int64
        let recentStarts: [Int64]
        let span: Int64

        /// What memory holds enters the totals (the old current minute, future-dated minutes now
        /// past, late records), then the departed rows are subtracted: in the other order a total
        /// could go below zero, and tallies stop at zero.
        func move(_ windows: inout EndpointWindows, subtracting departed: Departed?) {
            // Held: the current minute and future-dated ones (and future-dated spans, which only a
            // clock set back gives). Those now in the past enter the totals.
            let entering = windows.minutes.keys.filter { $0 <= newMinute }
            let spansEntering = windows.spans.keys.filter { $0 <= newMinute }
            guard departed != nil || !entering.isEmpty || !spansEntering.isEmpty || !windows.late.isEmpty else { return }
            var (short, long) = windows.totals(current: oldMinute)
            var recent = windows.recentTotals(current: oldMinute, count: recentStarts.count)
            for minute in entering {
                guard let tallies = windows.minutes.removeValue(forKey: minute) else { continue }
                // The old current minute is in the totals already (and in the departed rows if it
                // left); a future-dated one enters the windows it is still in.
                guard minute > oldMinute else { continue }
                if WindowAggregator.spanStart(of: minute, span: span) + span - 1 >= longStart { long.add(tallies) }
                if minute >= shortStart { short.add(tallies) }
                for (index, start) in recentStarts.enumerated() where minute >= start { recent[index].add(tallies) }
            }
            for start in spansEntering {
                guard let tallies = windows.spans.removeValue(forKey: start) else { continue }
                if start + span - 1 >= longStart { long.add(tallies) }
            }
            if let departed {
                short.subtract(departed.short)
                long.subtract(departed.long)
                for index in recent.indices where index < departed.recent.count { recent[index].subtract(departed.recent[index]) }
            }
            windows.store(short: short, long: long, recent: recent, current: newMinute)
            windows.minutes.pack(before: newMinute)
            // An endpoint quiet this minute holds no buffer for its minutes until it has one again.
            windows.minutes.releaseIfEmpty()
        }
    }
}
