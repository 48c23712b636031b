import RankdCore
import RankdStore

/// The production windows walked through recorded time: loaded as a restart loads them at the
/// first epoch, then fed each minute's stored tallies once as time reaches it, and advanced with
/// what leaves them read back from the snapshot (minute rows the short window took are kept in
/// memory until they leave it, so each minute row is read once).
struct Walk {
    let snapshot: RecordedSnapshot
    private(set) var windows: WindowAggregator?
    private var lengths: (short: Double, long: Double) = (0, 0)
    /// Minute rows of the minutes from `cachedFrom` on (an empty array: a minute without rows).
    private var cache: [Int64: [MinuteBucket]] = [:]
    private var cachedFrom = Int64.max
    private var known: Set<String> = []
    /// Each endpoint's model (failing minutes are judged against the model's other endpoints).
    private var models: [String: String] = [:]
    /// The last minute whose rows the windows took.
    private var fedThrough = Int64.min
    private(set) var runs = FailingRuns()

    init(snapshot: RecordedSnapshot) { self.snapshot = snapshot }

    /// One minute's tallies as fed: per endpoint, probes and live requests together, and the
    /// live requests alone.
    struct Minute {
        var tallies: [String: Tally] = [:]
        var live: [String: Int64] = [:]
    }

    /// Moves the windows to `time` for `policy`'s window lengths (a first call, or new lengths,
    /// loads them as a restart would) and returns the minutes fed since the last call, by minute.
    ///
    /// The minute `time` falls in is not fed until a later epoch: its rows hold records that came
    /// after `time` too, which the published epoch could not have seen (the daemon's epoch saw the
    /// part of it before `time`; the report marks such epochs `inputs_differ`).
    mutating func advance(to time: Timestamp, policy: Policy, registry: [Endpoint]) throws -> [Int64: Minute] {
        known = Set(registry.map(\.id))
        for endpoint in registry { models[endpoint.id] = endpoint.model }
        guard let current = windows?.currentMinute, lengths == (policy.windows.shortSeconds, policy.windows.longSeconds) else {
            try load(at: time, policy: policy)
            return [:]
        }
        guard time.minute > current else { return [:] }
        // fedThrough is the last epoch's minute less one, so this is never empty.
        let minutes = (fedThrough + 1)...(time.minute - 1)
        let buckets = try snapshot.minuteBuckets(minutes).filter { known.contains($0.endpointID) }
        var fed: [Int64: Minute] = [:]
        for minute in minutes { cache[minute] = [] }
        for bucket in buckets {
            cache[bucket.minute]!.append(bucket)
            fed[bucket.minute, default: Minute()].tallies[bucket.endpointID, default: Tally()].add(bucket.tally)
            if bucket.source == .live { fed[bucket.minute]!.live[bucket.endpointID, default: 0] += bucket.tally.total }
        }
        fedThrough = time.minute - 1
        var moving = windows!
        windows = nil
        // The old current minute is current to the windows, later ones future-dated until the
        // advance takes them in, as a daemon's would be.
        for bucket in buckets { moving.record(bucket, persist: false) }
        try moving.advance(to: time) { departures, subtract in try readDeparted(departures, subtract) }
        windows = moving
        evict()
        observeRuns(fed)
        return fed
    }

    private mutating func observeRuns(_ fed: [Int64: Minute]) {
        for minute in fed.keys.sorted() {
            runs.observe(minute: minute, tallies: fed[minute]!.tallies) { models[$0] }
        }
    }

    /// Drops the minutes that have left the short window.
    private mutating func evict() {
        guard let windows else { return }
        let start = windows.currentMinute - windows.shortWindowMinutes + 1
        for minute in cache.keys where minute < start { cache[minute] = nil }
        cachedFrom = max(cachedFrom, start)
    }

    /// The windows at `time` as a restart builds them: the long window from its first span (hour
    /// rows for whole hours rolled up before the short window; never an hour row holding a minute
    /// after `time`), minute rows from there to the minute before `time`'s.
    private mutating func load(at time: Timestamp, policy: Policy) throws {
        var loaded = WindowAggregator(shortWindowSeconds: policy.windows.shortSeconds, longWindowSeconds: policy.windows.longSeconds, now: time)
        lengths = (policy.windows.shortSeconds, policy.windows.longSeconds)
        let span = loaded.coarseMinutes
        let since = WindowAggregator.spanStart(of: time.minute - loaded.longWindowMinutes + 1, span: span)
        let shortStart = time.minute - loaded.shortWindowMinutes + 1
        var minutesFrom = since
        if span == 60, let rolled = snapshot.rolledUpUntil {
            let hoursUntil = min(rolled, WindowAggregator.spanStart(of: shortStart, span: 60))
            if hoursUntil > since {
                for bucket in try snapshot.hourBuckets(since...(hoursUntil - 1)) where known.contains(bucket.endpointID) {
                    loaded.load(bucket)
                }
                minutesFrom = hoursUntil
            }
        }
        cache = [:]
        fedThrough = time.minute - 1
        if minutesFrom <= fedThrough {
            for minute in stride(from: max(minutesFrom, shortStart), through: fedThrough, by: 1) { cache[minute] = [] }
            try snapshot.forEachMinuteBucket(minutesFrom...fedThrough) { bucket in
                guard known.contains(bucket.endpointID) else { return }
                loaded.load(bucket)
                if bucket.minute >= shortStart { cache[bucket.minute]!.append(bucket) }
            }
        }
        cachedFrom = shortStart
        loaded.packPast()
        windows = loaded
        var fed: [Int64: Minute] = [:]
        for (minute, buckets) in cache {
            for bucket in buckets { fed[minute, default: Minute()].tallies[bucket.endpointID, default: Tally()].add(bucket.tally) }
        }
        observeRuns(fed)
    }

    /// Every row of what leaves the windows, ordered by endpoint: minute rows from memory where
    /// it holds them, else from the snapshot; hour rows for whole hours rolled up.
    private func readDeparted(_ departures: WindowAggregator.Departures, _ subtract: (MinuteBucket, WindowAggregator.Departure) -> Void) throws {
        var rows: [(MinuteBucket, WindowAggregator.Departure)] = []
        func minuteRows(_ minutes: ClosedRange<Int64>, _ side: WindowAggregator.Departure) throws {
            if minutes.lowerBound >= cachedFrom {
                for minute in minutes { for bucket in cache[minute] ?? [] { rows.append((bucket, side)) } }
            } else {
                for bucket in try snapshot.minuteBuckets(minutes) where known.contains(bucket.endpointID) { rows.append((bucket, side)) }
            }
        }
        if let minutes = departures.shortMinutes { try minuteRows(minutes, .shortWindow) }
        for (index, minutes) in departures.recentMinutes.enumerated() {
            if let minutes { try minuteRows(minutes, .recentWindow(index)) }
        }
        if let minutes = departures.longMinutes {
            if departures.spanMinutes == 60, minutes.lowerBound % 60 == 0, let rolled = snapshot.rolledUpUntil, rolled > minutes.upperBound {
                for bucket in try snapshot.hourBuckets(minutes) where known.contains(bucket.endpointID) { rows.append((bucket, .longWindow)) }
            } else {
                try minuteRows(minutes, .longWindow)
            }
        }
        rows.sort { $0.0.endpointID < $1.0.endpointID }
        for (bucket, side) in rows { subtract(bucket, side) }
    }
}
