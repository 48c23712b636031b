/// Per-endpoint rolling aggregates over the short and long windows, kept current as observations
/// arrive, so computing an epoch costs time proportional to endpoints, not stored minutes.
///
/// Each endpoint keeps minute tallies for the short window only; older minutes are folded into
/// coarse spans (`coarseMinutes` long: an hour for the default 24 h window), which is what the
/// long window subtracts when they leave it. A running total per window makes reading the windows
/// cheap. So an endpoint holds about 16 minute tallies and 25 span tallies, not 1,440 minutes.
///
/// The running totals leave out the current minute, so they change only when time advances, and
/// are held packed between advances (`PackedTallies`); reading a window adds the current minute
/// (and any late records since the last advance) to them. Unpacked, a busy endpoint's two totals
/// are most of its memory (a kilobyte or so each).
///
/// The short window is exact to the minute. The long window leaves a span at a time: data stays in
/// it while the span holding its minute overlaps the window, so it covers the window plus at most
/// `coarseMinutes - 1` older minutes (24 h to 24 h 59 min by default). A record is accepted while
/// the span of its minute overlaps the long window.
///
/// **The past is in the store**: the windows hold their running totals and the current (and
/// future-dated) minutes only. What leaves a window is read back, once a minute, from a
/// `WindowPast` (the daemon's `state.db`, an in-memory one in tests), which holds every tally the
/// windows counted: `advance(to:past:)`. Held in memory, a busy endpoint's minutes and hour spans
/// were most of a 20,000-endpoint daemon's memory after a day. An advance whose reading fails
/// leaves the windows as they were, so a storage error delays the windows but never makes them
/// drift. Keeping the past equal to what was counted is the owner's rule (the daemon's
/// `WindowLedger`): every tally handed to `record` is written to the past before the next advance.
public struct WindowAggregator: Sendable {
    /// Window lengths in whole minutes (the current, partial minute counts as one).
    public let shortWindowMinutes: Int64
    public let longWindowMinutes: Int64
    /// The recent windows' lengths in whole minutes, ascending, no two alike.
    public let recentWindowMinutes: [Int64]
    /// Length of the spans that hold the long window's minutes older than the short window: the
    /// largest divisor of 60 no longer than a 24th of the long window (60 for 24 h, 1 for short
    /// test windows, where the long window is then exact too).
    public let coarseMinutes: Int64

    /// Minute the windows end in (inclusive). Observations after it are counted once time advances.
    public internal(set) var currentMinute: Int64

    var endpoints: [String: EndpointWindows] = [:]
    /// Minute tallies recorded since the last `drainPendingBuckets()`, for the store to persist.
    private var pending: [BucketKey: Tally] = [:]

    struct BucketKey: Hashable {
        var endpointID: String
        var minute: Int64
        var source: ObservationSource
    }

    struct EndpointWindows: Sendable {
        /// Minutes from the short window's start on (future-dated ones included).
        var minutes = MinuteTallies()
        /// Minutes before the short window, by the first minute of their span.
        var spans = MinuteTallies()
        /// The short and long window totals as of the last advance, without the current minute.
        var shortPast = PackedTallies.empty
        var longPast = PackedTallies.empty
        /// The recent windows' totals likewise, one per `recentWindowMinutes` (empty: all empty).
        var recentPast: [PackedTallies] = []
        /// Records since the last advance for minutes before the current one: none almost always
        /// (an empty array allocates nothing); else what of them each window holds, `[short,
        /// long, recent...]`.
        var late: [SourceTallies] = []

        mutating func addLate(_ tally: Tally, source: ObservationSource, inShort: Bool, inLong: Bool, inRecent: [Bool]) {
            if late.isEmpty { late = Array(repeating: SourceTallies(), count: 2 + inRecent.count) }
            if inShort { late[0].add(tally, source: source) }
            if inLong { late[1].add(tally, source: source) }
            for (index, inside) in inRecent.enumerated() where inside { late[2 + index].add(tally, source: source) }
        }

        /// What the current minute's tallies and the late records add to a window.
        private func adding(to past: SourceTallies, lateIndex: Int, currentTallies: SourceTallies?) -> SourceTallies {
            var total = past
            if let currentTallies { total.add(currentTallies) }
            if lateIndex < late.count { total.add(late[lateIndex]) }
            return total
        }

        /// The window totals, the minute `current` included.
        func totals(current: Int64) -> (short: SourceTallies, long: SourceTallies) {
            let tallies = minutes[current]
            return (
                adding(to: shortPast.unpacked(), lateIndex: 0, currentTallies: tallies),
                adding(to: longPast.unpacked(), lateIndex: 1, currentTallies: tallies)
            )
        }

        /// The recent windows' totals (`count` of them), the minute `current` included.
        func recentTotals(current: Int64, count: Int) -> [SourceTallies] {
            let tallies = minutes[current]
            return (0..<count).map { index in
                adding(
                    to: index < recentPast.count ? recentPast[index].unpacked() : SourceTallies(), lateIndex: 2 + index, currentTallies: tallies)
            }
        }

        /// Keeps window totals that include the minute `current` (packed, without it).
        mutating func store(short: SourceTallies, long: SourceTallies, recent: [SourceTallies], current: Int64) {
            let minute = minutes[current]
            func pack(_ total: SourceTallies) -> PackedTallies {
                var total = total
                if let minute { total.subtract(minute) }
                return PackedTallies(total)
            }
            shortPast = pack(short)
            longPast = pack(long)
            recentPast = recent.allSatisfy { $0 == SourceTallies() } ? [] : recent.map(pack)
            late = []
        }
    }

    /// `recentWindowSeconds`: more windows exact to the minute (OpenRouter's 5 and 30 minutes, the
    /// routing cut-offs' window), read with `recentStats(for:)`; each at most the long window.
    public init(shortWindowSeconds: Double, longWindowSeconds: Double, recentWindowSeconds: [Double] = [], now: Timestamp) {
        shortWindowMinutes = max(1, Int64((shortWindowSeconds / 60).rounded(.up)))
        longWindowMinutes = max(shortWindowMinutes, Int64((longWindowSeconds / 60).rounded(.up)))
        let long = longWindowMinutes
        recentWindowMinutes = Array(Set(recentWindowSeconds.map { Self.recentMinutes(seconds: $0, longWindowMinutes: long) })).sorted()
        coarseMinutes = Self.coarseSpan(longWindowMinutes: longWindowMinutes)
        currentMinute = now.minute
    }

    /// A recent window's length in whole minutes: rounded up, at least 1, at most the long window.
    public static func recentMinutes(seconds: Double, longWindowMinutes: Int64) -> Int64 {
        min(longWindowMinutes, max(1, Int64((seconds / 60).rounded(.up))))
    }

    /// The largest divisor of 60 that is at most a 24th of the long window (at least 1).
    public static func coarseSpan(longWindowMinutes: Int64) -> Int64 {
        let limit = max(1, longWindowMinutes / 24)
        return [60, 30, 20, 15, 12, 10, 6, 5, 4, 3, 2, 1].first { $0 <= limit } ?? 1
    }

    var shortStart: Int64 { currentMinute - shortWindowMinutes + 1 }
    /// The recent windows' first minutes.
    var recentStarts: [Int64] { recentWindowMinutes.map { currentMinute - $0 + 1 } }
    var longStart: Int64 { currentMinute - longWindowMinutes + 1 }

    /// First minute of the span holding `minute`.
    public func spanStart(of minute: Int64) -> Int64 { Self.spanStart(of: minute, span: coarseMinutes) }

    public static func spanStart(of minute: Int64, span: Int64) -> Int64 {
        let (quotient, remainder) = minute.quotientAndRemainder(dividingBy: span)
        return (remainder < 0 ? quotient - 1 : quotient) * span
    }

    /// Records one observation. One older than the long window is dropped (returns false);
    /// one from a future minute is kept in its minute and enters the windows when time gets there.
    /// `persist: false` for one already written to the store (live telemetry commits its own buckets).
    @discardableResult
    public mutating func record(_ observation: Observation, persist: Bool = true) -> Bool {
        var tally = Tally()
        tally.record(observation)
        return add(
            MinuteBucket(endpointID: observation.endpointID, minute: observation.time.minute, source: observation.source, tally: tally),
            persist: persist)
    }

    /// Adds a whole minute tally (a batch folded by `MinuteBucket.fold`): one merge instead of one
    /// per observation.
    @discardableResult
    public mutating func record(_ bucket: MinuteBucket, persist: Bool) -> Bool {
        add(bucket, persist: persist)
    }

    /// Restores a stored minute, or a stored span of minutes (`spanMinutes` > 1, placed in the
    /// span of its first minute), at start-up; it is not queued for persistence again.
    ///
    /// Loaded tallies are packed every `loadsPerPack` loads and by `packPast()` after the last:
    /// start-up loads a whole window of past minutes and spans, which unpacked would peak at
    /// hundreds of megabytes with many busy endpoints, and packing each at once would repack a
    /// span for every minute loaded into it (several times slower).
    /// `inLongWindow: false` for a past minute the long window has from an hour row already (the
    /// exact windows take it, the long one does not).
    @discardableResult
    public mutating func load(_ bucket: MinuteBucket, inLongWindow: Bool = true) -> Bool {
        loadsSincePack += 1
        if loadsSincePack >= Self.loadsPerPack { packPast() }
        return add(bucket, persist: false, inLong: inLongWindow)
    }

    static let loadsPerPack = 4_096
    private var loadsSincePack = 0

    /// Packs every tally that no longer changes (all but the current and future-dated minutes).
    public mutating func packPast() {
        loadsSincePack = 0
        let current = currentMinute
        var index = endpoints.startIndex
        while index != endpoints.endIndex {
            defer { endpoints.formIndex(after: &index) }
            Self.mutate(&endpoints.values[index]) { windows in
                if !windows.late.isEmpty {
                    let totals = windows.totals(current: current)
                    let recent = windows.recentTotals(current: current, count: recentWindowMinutes.count)
                    windows.store(short: totals.short, long: totals.long, recent: recent, current: current)
                }
                windows.minutes.pack(before: current)
                windows.spans.pack()
            }
        }
    }

    /// Whether `bucket` would be counted: its (last) minute's span still overlaps the long window
    /// (a span leaves whole, so what it holds must have been counted whole).
    public func admits(_ bucket: MinuteBucket) -> Bool {
        let lastMinute = bucket.minute + max(1, bucket.spanMinutes) - 1
        return spanStart(of: lastMinute) + coarseMinutes - 1 >= longStart
    }

    private mutating func add(_ bucket: MinuteBucket, persist: Bool, inLong: Bool = true) -> Bool {
        guard admits(bucket) else { return false }
        let current = bucket.minute <= currentMinute
        let inMinutes = bucket.spanMinutes <= 1 && bucket.minute >= shortStart
        let inShort = current && inMinutes
        let span = spanStart(of: bucket.minute)
        // The current minute is read from `minutes` itself; records for earlier minutes are late.
        let late = current && !(inMinutes && bucket.minute == currentMinute)
        // Which recent windows hold it, worked out for late records only (the array would be an
        // allocation per record on the ingest path for nothing).
        let inRecent = late ? recentStarts.map { bucket.spanMinutes <= 1 && bucket.minute >= $0 } : []
        // A minute left out of the long window (its hour row has it) that is not past: only a
        // clock set back gives one; its hour row counts it, the exact windows go without it.
        if !inLong && !late { return true }
        // Mutated in place through the dictionary: copying the windows out and back would copy
        // the endpoint's dictionaries on every add (quadratic at start-up).
        Self.mutate(&endpoints[bucket.endpointID, default: EndpointWindows()]) { windows in
            if late {
                // Only the running totals take it: the past holds the minute for when it leaves.
            } else if inMinutes {
                windows.minutes.add(bucket.tally, source: bucket.source, at: bucket.minute)
            } else {
                windows.spans.add(bucket.tally, source: bucket.source, at: span)
            }
            if late { windows.addLate(bucket.tally, source: bucket.source, inShort: inShort, inLong: inLong, inRecent: inRecent) }
        }
        if persist {
            pending[BucketKey(endpointID: bucket.endpointID, minute: bucket.minute, source: bucket.source), default: Tally()].add(
                bucket.tally)
        }
        return true
    }

    /// Runs `body` on `value` in place (an `inout` access keeps a dictionary entry uniquely referenced).
    static func mutate<T>(_ value: inout T, _ body: (inout T) -> Void) { body(&value) }

    /// The current window totals of one endpoint (empty when nothing was seen).
    public func stats(for endpointID: String) -> WindowStats {
        guard let windows = endpoints[endpointID] else { return WindowStats() }
        let totals = windows.totals(current: currentMinute)
        return WindowStats(short: totals.short, long: totals.long)
    }

    /// The recent windows' totals of one endpoint, one per `recentWindowMinutes` (empty ones
    /// when nothing was seen).
    public func recentStats(for endpointID: String) -> [SourceTallies] {
        guard let windows = endpoints[endpointID] else { return recentWindowMinutes.map { _ in SourceTallies() } }
        return windows.recentTotals(current: currentMinute, count: recentWindowMinutes.count)
    }

    /// Minute tallies recorded since the last call, merged per minute, sorted for determinism.
    public mutating func drainPendingBuckets() -> [MinuteBucket] {
        let buckets = pending.map {
            MinuteBucket(endpointID: $0.key.endpointID, minute: $0.key.minute, source: $0.key.source, tally: $0.value)
        }
        pending.removeAll(keepingCapacity: true)
        return buckets.sorted { ($0.endpointID, $0.minute, $0.source.rawValue) < ($1.endpointID, $1.minute, $1.source.rawValue) }
    }

    /// Number of minute tallies held in memory (the short window's, and future-dated ones).
    public var storedMinuteCount: Int { endpoints.values.reduce(0) { $0 + $1.minutes.count } }

    /// Tallies held unpacked: the current minute's and future-dated ones, and per endpoint the
    /// late records (and loads) since the last advance or pack, counted as one (the rest are
    /// `PackedTallies`).
    public var unpackedTallyCount: Int {
        endpoints.values.reduce(0) { $0 + $1.minutes.unpackedCount + $1.spans.unpackedCount + ($1.late.isEmpty ? 0 : 1) }
    }

    /// Number of span tallies held in memory (the long window beyond the short one).
    public var storedSpanCount: Int { endpoints.values.reduce(0) { $0 + $1.spans.count } }

    /// Bytes of the packed window totals (both windows of every endpoint; array headers not
    /// counted). They grow with the spread of latency and throughput values seen (a histogram bin
    /// each), not with time.
    public var packedTotalBytes: Int {
        endpoints.values.reduce(0) { $0 + $1.shortPast.byteCount + $1.longPast.byteCount + $1.recentPast.reduce(0) { $0 + $1.byteCount } }
    }
}

/// Tallies split by source.
public struct SourceTallies: Hashable, Codable, Sendable {
    public var probe = Tally()
    public var live = Tally()

    public init(probe: Tally = Tally(), live: Tally = Tally()) {
        self.probe = probe
        self.live = live
    }

    public subscript(source: ObservationSource) -> Tally {
        get { source == .probe ? probe : live }
        set { if source == .probe { probe = newValue } else { live = newValue } }
    }

    public var combined: Tally { probe + live }

    /// Adds to one source's tally in place (through the subscript, the tally would be copied out
    /// and back, and its histograms copied for the write).
    public mutating func add(_ tally: Tally, source: ObservationSource) {
        if source == .probe { probe.add(tally) } else { live.add(tally) }
    }

    public mutating func add(_ other: SourceTallies) {
        probe.add(other.probe)
        live.add(other.live)
    }

    public mutating func subtract(_ other: SourceTallies) {
        probe.subtract(other.probe)
        live.subtract(other.live)
    }
}

/// An endpoint's totals over the short and the long window.
public struct WindowStats: Hashable, Sendable {
    public var short: SourceTallies
    public var long: SourceTallies

    public init(short: SourceTallies = SourceTallies(), long: SourceTallies = SourceTallies()) {
        self.short = short
        self.long = long
    }
}
