/// Per-endpoint rolling aggregates over the short and long windows, kept current as observations
/// arrive, so computing an epoch costs time proportional to endpoints, not stored minutes.
///
/// Each endpoint keeps its minute tallies for the long window plus a running total per window.
/// `advance(to:)` subtracts the minutes that left a window; an observation adds to its minute and
/// to each window that minute is in.
public struct WindowAggregator: Sendable {
    /// Window lengths in whole minutes (the current, partial minute counts as one).
    public let shortWindowMinutes: Int64
    public let longWindowMinutes: Int64

    /// Minute the windows end in (inclusive). Observations after it are counted once time advances.
    public private(set) var currentMinute: Int64

    private var endpoints: [String: EndpointWindows] = [:]
    /// Minute tallies recorded since the last `drainPendingBuckets()`, for the store to persist.
    private var pending: [BucketKey: Tally] = [:]

    struct BucketKey: Hashable {
        var endpointID: String
        var minute: Int64
        var source: ObservationSource
    }

    struct EndpointWindows: Sendable {
        var minutes: [Int64: SourceTallies] = [:]
        var short = SourceTallies()
        var long = SourceTallies()
    }

    public init(shortWindowSeconds: Double, longWindowSeconds: Double, now: Timestamp) {
        shortWindowMinutes = max(1, Int64((shortWindowSeconds / 60).rounded(.up)))
        longWindowMinutes = max(shortWindowMinutes, Int64((longWindowSeconds / 60).rounded(.up)))
        currentMinute = now.minute
    }

    private var shortStart: Int64 { currentMinute - shortWindowMinutes + 1 }
    private var longStart: Int64 { currentMinute - longWindowMinutes + 1 }

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

    /// Restores a stored minute (at start-up); it is not queued for persistence again.
    @discardableResult
    public mutating func load(_ bucket: MinuteBucket) -> Bool {
        add(bucket, persist: false)
    }

    private mutating func add(_ bucket: MinuteBucket, persist: Bool) -> Bool {
        guard bucket.minute >= longStart else { return false }
        let current = bucket.minute <= currentMinute
        let inShort = current && bucket.minute >= shortStart
        // Mutated in place through the dictionary: copying the windows out and back would copy
        // the endpoint's minute dictionary on every add (quadratic at start-up).
        mutate(&endpoints[bucket.endpointID, default: EndpointWindows()]) { windows in
            windows.minutes[bucket.minute, default: SourceTallies()][bucket.source].add(bucket.tally)
            if current { windows.long[bucket.source].add(bucket.tally) }
            if inShort { windows.short[bucket.source].add(bucket.tally) }
        }
        if persist {
            pending[BucketKey(endpointID: bucket.endpointID, minute: bucket.minute, source: bucket.source), default: Tally()].add(
                bucket.tally)
        }
        return true
    }

    /// Moves the windows' end to `now`: minutes that left a window are subtracted from it, minutes
    /// that entered are added, and minutes older than the long window are forgotten. Only minutes
    /// crossing a window edge are touched (at most one window's worth), never every stored minute.
    public mutating func advance(to now: Timestamp) {
        let newMinute = now.minute
        guard newMinute > currentMinute else { return }
        let oldShortStart = shortStart
        let oldLongStart = longStart
        let oldMinute = currentMinute
        currentMinute = newMinute
        // Minutes that reached the windows' end (future-dated data that is now current).
        let entering = clip(oldMinute + 1, newMinute, lowest: longStart)
        let leavingShort = clip(oldShortStart, min(shortStart - 1, oldMinute), lowest: oldShortStart)
        let leavingLong = clip(oldLongStart, min(longStart - 1, oldMinute), lowest: oldLongStart)
        let shortStart = shortStart
        for index in endpoints.indices {
            mutate(&endpoints.values[index]) { windows in
                for minute in leavingShort {
                    if let tallies = windows.minutes[minute] { windows.short.subtract(tallies) }
                }
                for minute in leavingLong {
                    if let tallies = windows.minutes[minute] { windows.long.subtract(tallies) }
                    windows.minutes[minute] = nil
                }
                for minute in entering {
                    guard let tallies = windows.minutes[minute] else { continue }
                    windows.long.add(tallies)
                    if minute >= shortStart { windows.short.add(tallies) }
                }
            }
        }
    }

    /// Runs `body` on `value` in place (an `inout` access keeps a dictionary entry uniquely referenced).
    private func mutate<T>(_ value: inout T, _ body: (inout T) -> Void) { body(&value) }

    /// The minutes `lower...upper`, no lower than `lowest`, empty when inverted.
    private func clip(_ lower: Int64, _ upper: Int64, lowest: Int64) -> StrideThrough<Int64> {
        stride(from: max(lower, lowest), through: upper, by: 1)
    }

    /// The current window totals of one endpoint (empty when nothing was seen).
    public func stats(for endpointID: String) -> WindowStats {
        guard let windows = endpoints[endpointID] else { return WindowStats() }
        return WindowStats(short: windows.short, long: windows.long)
    }

    /// Minute tallies recorded since the last call, merged per minute, sorted for determinism.
    public mutating func drainPendingBuckets() -> [MinuteBucket] {
        let buckets = pending.map {
            MinuteBucket(endpointID: $0.key.endpointID, minute: $0.key.minute, source: $0.key.source, tally: $0.value)
        }
        pending.removeAll(keepingCapacity: true)
        return buckets.sorted { ($0.endpointID, $0.minute, $0.source.rawValue) < ($1.endpointID, $1.minute, $1.source.rawValue) }
    }

    /// Number of minute tallies held in memory (for metrics and memory accounting).
    public var storedMinuteCount: Int { endpoints.values.reduce(0) { $0 + $1.minutes.count } }
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
